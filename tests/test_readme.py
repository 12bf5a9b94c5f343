"""README's Python example runs as written and prints what README says it prints.

The printed digits depend on the thread count (conv's parameter gradients are summed per thread chunk,
``minicnn/threads.py``), so README names the count it printed them with and the example runs with it.
"""
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def python_blocks():
    return re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)


def test_the_using_it_example_prints_what_readme_says(mnist_root, tmp_path):
    readme = (REPO / "README.md").read_text()
    example = next(b for b in python_blocks() if "loss.backward()" in b and "class SkipNet" in b)
    claimed = re.search(r"It prints `(last loss [\d.]+)` and `(accuracy on 1000 test images: [\d.]+%)` "
                        r"with (\d+) threads", readme)
    assert claimed, "README no longer says what the example prints, and with how many threads"
    script = tmp_path / "example.py"
    script.write_text(example)
    env = {"MINICNN_DATA": str(mnist_root), "PATH": "/usr/bin:/bin", "MINICNN_NUM_THREADS": claimed.group(3)}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=REPO,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [claimed.group(1), claimed.group(2)]
