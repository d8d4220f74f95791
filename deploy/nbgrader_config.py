"""nbgrader on the course's JupyterHub: the exchange is the ngshare service (deploy/README.md).

NGSHARE_URL is set by the Helm values (singleuser.extraEnv); the course id by the image.
"""

import os

from ngshare_exchange import configureExchange

c = get_config()  # noqa: F821 (nbgrader injects get_config)
c.CourseDirectory.course_id = os.environ.get("NBGRADER_COURSE_ID", "genlm-course")
configureExchange(c, os.environ["NGSHARE_URL"])
