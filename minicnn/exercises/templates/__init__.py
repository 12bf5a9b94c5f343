"""The workbook's files, as ``minicnn exercises init DIR`` copies them: one per exercise, numbered in course
order, each with its functions' signatures, shapes and contract, and bodies that raise NotImplementedError.
(They are text to copy, not modules to import: their names start with their number.)"""
