"""API shapes of the Panel's report: the request to make one, and the record made."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from records_service.bounds import SafeDate


class PanelReportRequest(BaseModel):
    """The period to report on (both days included) and the document's format."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: SafeDate = Field(alias="from", description="The period's first day.")
    end: SafeDate = Field(alias="to", description="The period's last day, included.")
    format: Literal["html", "pdf"] = Field(default="pdf", description="HTML or PDF.")


class PanelReportLinks(BaseModel):
    """Where the record made and its bytes are read."""

    record: str = Field(description="The record: GET it for its metadata and versions.")
    content: str = Field(description="The report exactly as captured.")


class PanelReportMade(BaseModel):
    """A report made and captured as a ``panel_report`` record."""

    record_id: str
    title: str
    start: date = Field(serialization_alias="from")
    end: date = Field(serialization_alias="to")
    format: Literal["html", "pdf"]
    media_type: str
    size: int = Field(description="The report's size in bytes.")
    links: PanelReportLinks
