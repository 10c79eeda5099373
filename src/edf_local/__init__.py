"""The local runtime: the production workflows run unchanged on a laptop (see docs/local_runtime.md).

* :mod:`edf_local.emulator` - ``EmulatedAWS``: moto server + compatibility layer, provisioning;
* :mod:`edf_local.stepfunctions` - ``LocalStepFunctions``: the ASL interpreter;
* :mod:`edf_local.sagemaker_runner` - ``LocalSageMakerRunner``: SageMaker jobs as subprocesses;
* :mod:`edf_local.lambdas` - ``LocalLambdaInvoker``: Lambda handlers in-process;
* :mod:`edf_local.dispatch` - ``make_dispatch``: task Resource ARN -> launcher;
* :mod:`edf_local.templates` - ``render_asl``: Terraform ``templatefile`` rendering;
* :mod:`edf_local.asl` - ``validate_asl``: static checks of a definition.

Submodules are imported on use so that importing ``edf_local`` stays cheap (moto is loaded only by
the emulator).
"""

from edf_local.errors import TaskFailed

__all__ = ["TaskFailed"]
