"""The interpreter exits 0 after using a model; a model used after fork() raises."""

import os
import subprocess
import sys
import textwrap

import pytest

import gpu_resnet
from conftest import TINY, batch

SCRIPT = textwrap.dedent(
    """
    import numpy as np, gpu_resnet
    m = gpu_resnet.Model(model="ResNet18_vd", classes=10)
    print(m.run(np.ones((1, 3, 32, 32), np.float32)).shape)
    keep = gpu_resnet.Model(model="ResNet18_vd", classes=10)  # left open at exit
    """
)


def test_interpreter_exits_zero():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "(1, 10)" in done.stdout


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() on this platform")
def test_fork_raises_a_clear_error():
    model = gpu_resnet.Model(**TINY)
    model.run(batch(1, 32))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what happened through the pipe, then leave at once
        os.close(read)
        try:
            model.run(batch(1, 32))
            msg = b"ran"
        except gpu_resnet.DeviceError as e:
            msg = b"DeviceError: " + str(e).encode()
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            msg = type(e).__name__.encode() + b": " + str(e).encode()
        os.write(write, msg)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        msg = f.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert msg.startswith("DeviceError"), msg
    assert "fork" in msg
    assert model.run(batch(1, 32)).shape == (1, 10)  # the parent's model still works
