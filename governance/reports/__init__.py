"""Report writers: JSON, Markdown, JUnit XML, SARIF and HTML, registered explicitly."""

from aigc_audit.governance.reports import html, json_report, junit, markdown, sarif
from aigc_audit.governance.reports.base import (
    names,
    prepare_out_dir,
    publish_reports,
    register,
    render_reports,
    write_reports,
)

register("json", "report.json", json_report.render)
register("markdown", "report.md", markdown.render)
register("junit", "junit.xml", junit.render)
register("sarif", "report.sarif", sarif.render)
register("html", "report.html", html.render)

__all__ = ["names", "prepare_out_dir", "publish_reports", "register", "render_reports", "write_reports"]
