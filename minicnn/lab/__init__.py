"""``minicnn lab``: a local web page to draw digits, train live and step through backprop.

* :mod:`~minicnn.lab.app`: :class:`LabApp`, the JSON API as Python methods (the table of routes is there);
* :mod:`~minicnn.lab.server`: the HTTP server (the standard library's ``ThreadingHTTPServer``, on
  127.0.0.1 only) that serves ``static/`` and routes ``/api/...`` to a :class:`LabApp`;
* :mod:`~minicnn.lab.stages`: a model's forward as named stages (the feature maps);
* :mod:`~minicnn.lab.trainer`: the training run in a worker thread;
* :mod:`~minicnn.lab.backprop`: the forward and backward steps of one image;
* :mod:`~minicnn.lab.arrays`: arrays and images in and out of JSON, and :class:`LabError`.
"""
from .app import LabApp
from .arrays import LabError, decode, encode

__all__ = ["LabApp", "LabError", "decode", "encode"]
