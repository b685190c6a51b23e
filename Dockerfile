# The hrlrec image: Airflow 3 + the hrlrec package, for every service in
# docker-compose.yml. torch resolves to PyPI's CUDA build on Linux, so the same
# image serves the CPU and the GPU Celery workers.
FROM python:3.11-slim-bookworm

ENV PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    AIRFLOW_HOME=/opt/airflow

RUN apt-get update \
 && apt-get install -y --no-install-recommends git libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 50000 airflow

WORKDIR /opt/hrlrec
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
# The FAB provider is the api-server's auth manager (users and roles in the metadata DB).
RUN pip install -c constraints.txt . "apache-airflow[celery,postgres,redis]==3.3.2" \
    "apache-airflow-providers-fab==3.10.2"

COPY dags /opt/airflow/dags
# The pipeline definition the workspace is cloned from (`hrlrec init`): a git snapshot of the
# project as built into this image, so every versioned day names the code that produced it.
COPY dvc.yaml params.yaml ./
COPY .dvc/config ./.dvc/config
COPY data_checks ./data_checks
COPY dags ./dags
RUN git init -q && git add -A && git -c user.name=build -c user.email=build@localhost commit -qm "hrlrec image snapshot" \
 && chown -R airflow /opt/hrlrec
USER airflow
WORKDIR /workspace
