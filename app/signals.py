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

# sender: the Clue; kwargs: transition (clues.states.Transition), event (the new ClueEvent).
# Notifications queue their outbox rows here, in the same transaction.
clue_transitioned = _signals.signal("clue-transitioned")
# sender: the Clue just filed; kwargs: warnings (the high-frequency warnings it raised).
clue_filed = _signals.signal("clue-filed")
# sender: the ReratingInvitation created when a clue closed (notifications invite the reporter).
rerating_invited = _signals.signal("rerating-invited")
# sender: the Referral; kwargs: action (referred | received | concluded).
referral_changed = _signals.signal("referral-changed")

# sender: the SeedReport of `seed-demo --with-history`, after demo_city_seeded; kwargs: units.
# The demo package fills in a year of activity and returns lines to print.
demo_history_requested = _signals.signal("demo-history-requested")
