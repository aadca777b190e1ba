# The emulator's image, used by docker-compose.yml for the API (`serve --no-worker`) and the workers (`worker`).
#
#   docker build -t sagemaker-emulator:local .                       # FROM python:3.11-slim
#   docker build --build-arg BASE_IMAGE=<local image> ...            # any Debian-like image with Python 3.11+
#
# BASE_IMAGE is for machines that reach no registry: build FROM a locally made base (CI builds one with
# debootstrap, see scripts/build-compose-images.sh). PIP_NO_INDEX=1 PIP_FIND_LINKS=/src/wheelhouse install
# offline from the wheels (and sdists) in the build context's wheelhouse/ (pip reads them from the
# environment, so the build steps pip runs in subprocesses see them too).
#
# The API runs as the unprivileged `emulator` user with its data (S3 objects, the SDK config) in /data.
# A worker drives the host's Docker engine through its socket, which is root-equivalent anyway: compose runs
# the worker service as root (see docker-compose.yml).
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ARG PIP_NO_INDEX
ARG PIP_FIND_LINKS
# sagemaker-training (the process runner's toolkit) is published as source only: its small C extension
# needs a compiler. Only this stage has one.
RUN if ! command -v gcc >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*; \
    fi
COPY . /src
RUN python3 -m venv /opt/sagemaker-emulator \
    && /opt/sagemaker-emulator/bin/pip install --no-cache-dir --disable-pip-version-check "/src[docker,postgres]" \
    && /opt/sagemaker-emulator/bin/sagemaker-emulator --help >/dev/null

FROM ${BASE_IMAGE}
COPY --from=build /opt/sagemaker-emulator /opt/sagemaker-emulator
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin emulator \
    && mkdir -p /data \
    && chown emulator:emulator /data
ENV PATH=/opt/sagemaker-emulator/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SAGEMAKER_EMULATOR_HOST=0.0.0.0 \
    SAGEMAKER_EMULATOR_PORT=4599 \
    SAGEMAKER_EMULATOR_DATA_DIR=/data
USER emulator
WORKDIR /data
EXPOSE 4599
ENTRYPOINT ["sagemaker-emulator"]
CMD ["serve"]
