"""The charting library inlined into the report: Vega, Vega-Lite and vega-embed, as bundled by ``vl-convert-python``.

``vl-convert-python`` (the Vega project's own package, ``pip install 'healthcrawl[report]'``) ships
the three libraries and bundles them offline into one script of about 0.9 MB.
"""

from __future__ import annotations

from functools import lru_cache

from healthcrawl import CommandFailed

INSTALL_HINT = "pip install 'healthcrawl[report]'"


@lru_cache(maxsize=1)
def charting_script() -> str:
    """The JavaScript that defines ``vegaEmbed``, ``vegaLite`` and ``vega`` on ``window``, safe inside a ``<script>``."""
    return _vl_convert().javascript_bundle().replace("</script", "<\\/script")


def charting_versions() -> str:
    """The bundled libraries' versions, for the report's footer."""
    vl_convert = _vl_convert()
    return (f"Vega {vl_convert.get_vega_version()}, Vega-Lite {vl_convert.get_vegalite_versions()[-1]}, "
            f"vega-embed {vl_convert.get_vega_embed_version()}")


def _vl_convert():
    try:
        import vl_convert
    except ModuleNotFoundError:
        raise CommandFailed(f"the HTML report needs vl-convert-python for its charts: {INSTALL_HINT}") from None
    return vl_convert
