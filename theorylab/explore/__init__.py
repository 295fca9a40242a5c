"""Interactive parameter explorer: ``theorylab explore [STUDY]`` serves one Panel page per study.

Needs the ``[explore]`` extra.  In a notebook: ``pn.extension()`` then
``study_page("deeplinear")``.
"""

from theorylab.explore.app import StudyPage, landing_page, routes, serve, study_page

__all__ = ["StudyPage", "landing_page", "routes", "serve", "study_page"]
