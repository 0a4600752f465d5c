"""The test suite, a package tree so that every test module and helper has one dotted name
(`tests.nst.test_stylize`, `tests.e2e.app_server`) whatever folder pytest or a script starts
from, and two test files may share a basename in different folders.

    tests/nst/test_<module>.py     unit tests of nst/<module>.py (nst/methods/ and nst/paper/ included)
    tests/webui/test_<module>.py   unit tests of webui/<module>.py, in process (no server)
    tests/benchmarks/              tests of benchmarks/ (the baseline the timings compare against)
    tests/e2e/                     the running app: gradio_client API, browser, load, the Reliability table
    tests/real/                    on the real ImageNet networks (marked `real`)
    tests/gpu/                     the CUDA path, skipped without a GPU (benchmarks/gpu_check.sh runs it)

Shared fixtures are in tests/conftest.py, the running app's and the browser's in
tests/e2e/conftest.py. Paths: `tests.paths`; the fake checkpoint: `tests.fakes`.
"""
