"""A grading cluster on Slurm with dask-jobqueue: the scheduler in this process, each worker one Slurm job.

    pip install dask-jobqueue
    python deploy/slurm_cluster.py --jobs 10 [--partition P] [--account A] [--cores 2] [--memory 8GB]

Run it on a login node, from a checkout of the course whose .venv (with the cluster extra) and
certificates (`course-grader cluster-certs`) lie on a file system the compute nodes share. It
prints the address to grade with, `course-grader grade UNIT --cluster ADDRESS` (in another
terminal), and keeps the cluster up until Ctrl-C. Each job runs one single-threaded worker, so
one submission at a time, with the job's cores for its kernels.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from autograder import cluster  # noqa: E402
from autograder.workspace import Workspace  # noqa: E402


def slurm_cluster(certificates: Path, partition: str | None = None, account: str | None = None, cores: int = 2,
                  memory: str = "8GB", walltime: str = "02:00:00"):
    """A SLURMCluster whose scheduler and workers present the course certificate over TLS."""
    import dask
    from dask_jobqueue import SLURMCluster

    # One waiting submission at a time per worker, three retries after a worker dies, and no batch that waits
    # forever once every job has ended (deploy/dask/grading-cluster.yaml sets the same).
    dask.config.set({"distributed.scheduler.worker-saturation": 1.0, "distributed.scheduler.allowed-failures": 3,
                     "distributed.scheduler.no-workers-timeout": "600s"})
    return SLURMCluster(cores=1, processes=1, job_cpu=cores, memory=memory, walltime=walltime, queue=partition,
                        account=account, python=sys.executable, protocol="tls://",
                        security=cluster.security(certificates), job_name="course-grading",
                        scheduler_options={"dashboard": False})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, required=True, help="Slurm jobs, one worker each")
    parser.add_argument("--partition", help="the Slurm partition (#SBATCH -p)")
    parser.add_argument("--account", help="the Slurm account (#SBATCH -A)")
    parser.add_argument("--cores", type=int, default=2, help="cores of each job (default: 2)")
    parser.add_argument("--memory", default="8GB", help="memory of each job (default: 8GB)")
    parser.add_argument("--walltime", default="02:00:00")
    parser.add_argument("--certificates", type=Path, help="default: COURSE_CLUSTER_CERTS, else grading/cluster-certs")
    args = parser.parse_args()
    certificates = args.certificates or cluster.certificates_folder(Workspace.from_settings())
    with slurm_cluster(certificates.resolve(), args.partition, args.account, args.cores, args.memory,
                       args.walltime) as slurm:
        slurm.scale(jobs=args.jobs)
        print(f"Grade with: course-grader grade UNIT --cluster {slurm.scheduler_address}\n(Ctrl-C ends the cluster)")
        try:
            while True:
                time.sleep(60)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
