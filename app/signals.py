"""Named signals through which lower packages let higher ones react (STYLE.md: one-way deps)."""

from blinker import Namespace

_signals = Namespace()

# sender: the deactivated Unit. Receivers (QR codes, open assignments) react in the same
# transaction; they flush, never commit.
unit_deactivated = _signals.signal("unit-deactivated")

# sender: the Officer taken out of service (deactivated) or moved to another unit.
officer_deactivated = _signals.signal("officer-deactivated")
officer_transferred = _signals.signal("officer-transferred")

# sender: the new Evaluation (flushed); kwargs: clue (the validated clue form). A receiver
# that takes the clue returns its public summary {tracking_no, status, due_at} (JSON-safe).
evaluation_submitted = _signals.signal("evaluation-submitted")

# sender: the SeedReport of `seed-demo`; kwargs: units (code → Unit). Higher packages add
# their part of the demo city (QR codes, …) and return lines to print.
demo_city_seeded = _signals.signal("demo-city-seeded")
