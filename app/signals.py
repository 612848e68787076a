"""Named signals through which lower packages let higher ones react (STYLE.md: one-way deps)."""

from blinker import Namespace

_signals = Namespace()

# sender: the deactivated Unit. Receivers (QR codes, open assignments) react in the same
# transaction; they flush, never commit.
unit_deactivated = _signals.signal("unit-deactivated")

# sender: the Officer taken out of service (deactivated) or moved to another unit.
officer_deactivated = _signals.signal("officer-deactivated")
officer_transferred = _signals.signal("officer-transferred")

# sender: the Clue; kwargs: transition (clues.states.Transition), event (the new ClueEvent).
# Notifications queue their outbox rows here, in the same transaction.
clue_transitioned = _signals.signal("clue-transitioned")
# sender: the Clue just filed; kwargs: warnings (the high-frequency warnings it raised).
clue_filed = _signals.signal("clue-filed")
# sender: the ReratingInvitation created when a clue closed (notifications invite the reporter).
rerating_invited = _signals.signal("rerating-invited")
# sender: the Referral; kwargs: action (referred | received | concluded).
referral_changed = _signals.signal("referral-changed")
