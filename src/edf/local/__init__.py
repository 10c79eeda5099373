"""The local runtime: the production workflows run unchanged on a laptop (see docs/local_runtime.md).

* :mod:`edf.local.emulator` - ``EmulatedAWS``: moto server + compatibility layer, provisioning;
* :mod:`edf.local.stepfunctions` - ``LocalStepFunctions``: the ASL interpreter;
* :mod:`edf.local.sagemaker_runner` - ``LocalSageMakerRunner``: SageMaker jobs as subprocesses;
* :mod:`edf.local.lambdas` - ``LocalLambdaInvoker``: Lambda handlers in-process;
* :mod:`edf.local.dispatch` - ``make_dispatch``: task Resource ARN -> launcher;
* :mod:`edf.local.templates` - ``render_asl``: Terraform ``templatefile`` rendering;
* :mod:`edf.local.asl` - ``validate_asl``: static checks of a definition.

Submodules are imported on use so that importing ``edf.local`` stays cheap (moto is loaded only by
the emulator).
"""

from edf.local.errors import TaskFailed

__all__ = ["TaskFailed"]
