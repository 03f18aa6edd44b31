"""Plain-text tables for the command line."""


def format_table(rows: list[tuple[str, ...]]) -> str:
    """``rows`` (the first is the header) as left-aligned columns two spaces apart, no trailing spaces."""
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)
