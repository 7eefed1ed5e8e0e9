"""Where Hearth's own browser assets live on disk and under which URL they are served."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
STATIC_URL = "/static"
# Third-party builds from the npm registry (scripts/vendor-assets; MANIFEST.json lists
# versions and licences), laid out as package@version/path like a CDN.
VENDOR_URL = f"{STATIC_URL}/vendor"
