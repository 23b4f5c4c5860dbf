"""gpu_resnet: PaddleClas ResNets on any GPU wgpu reaches (Vulkan, Metal, DX12, GL).

    import numpy as np, gpu_resnet
    model = gpu_resnet.Model("ResNet50_vd_infer/")           # any file or dir `infer` reads
    logits = model.run(np.zeros((8, 3, 224, 224), np.float32))  # float32 [8, 1000]
    top5 = model.predict(["cat.jpg", "dog.png"])              # [{"class_id", "score", "label"}]

Drop-ins: ``gpu_resnet.inference`` (for ``paddle.inference``) and ``gpu_resnet.onnxruntime``.
"""

from ._errors import DeviceError, Error, InputError, NonFiniteError, WeightsError
from ._native import Model, __version__, adapters, models

__all__ = [
    "Model",
    "adapters",
    "models",
    "__version__",
    "Error",
    "WeightsError",
    "InputError",
    "DeviceError",
    "NonFiniteError",
]
