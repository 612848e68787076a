"""Named signals through which lower packages let higher ones react (STYLE.md: one-way deps)."""

from blinker import Namespace

_signals = Namespace()

# sender: the deactivated Unit. Receivers (QR codes, open assignments) react in the same
# transaction; they flush, never commit.
unit_deactivated = _signals.signal("unit-deactivated")
