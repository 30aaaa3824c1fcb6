"""Several candidates per image, and how one of them is chosen.

The spec fields (on :class:`~mediagen.spec.images.ImageOptions`, so a spec default
or a per-image override):

- ``candidates: N`` (1-8, default 1): generate N images for this entry, each a
  separate, paid generation with its own seed;
- ``pick: auto | review`` (default ``auto``): ``auto`` publishes the candidate with
  the best score (:mod:`mediagen.imaging.scoring`); ``review`` waits for a person;
- ``keep_candidates: true``: prune leaves the unchosen candidates' originals in the
  bucket (default: once a choice is recorded, prune may remove them).

The data model the engine builds on these fields (one place to read it):

**Keys.** Candidate 0 *is* the image's own request (the job's ``gen_key``), so
``candidates: 1`` changes no key and going from 1 to 3 reuses the published
original as candidate 0. Candidate ``i >= 1`` is the same request with another
seed, derived deterministically from the image's ``gen_key`` and ``i``
(:func:`mediagen.plan.candidates.candidate_seed`): same spec, same seeds, on any
machine. Its ``gen_key`` therefore differs, and so does everything keyed on it:
the original ``{prefix}/_originals/{gen_key_i}.{ext}`` and its sidecar ``.json``
(the ordinary cache: a candidate is never paid twice), and the out_keys of the
outputs it would publish (:func:`mediagen.plan.candidates.candidate_job` re-keys
the whole job; ``rekey`` does the same for any changed request).

**The pick record.** Once candidates are scored and one is chosen, the choice is
stored privately beside candidate 0's original,
``{prefix}/_originals/{gen_key_0}.pick-{h16}.json``, where ``h16`` hashes the
candidates' gen_keys, the pick mode and the score version. It lists every
candidate (index, seed, gen_key, original key, score and its signals) and the
choice; a re-run (or a run after prune removed the losers) reads it and needs
only the chosen original: it never asks the backend for the losers again.

**The manifest.** The image's entry describes the *chosen* candidate (its
``gen_key``, ``original_key``, outputs, facts) and adds two fields: ``candidates``
(one record per candidate: index, seed, gen_key, original_key, score, signals,
cost, chosen) and ``pick`` (mode, chosen index, how it was decided: ``auto`` or a
person's ``approve``/``reject``/``skip``, by whom, when, a note). The entry's
``cost_usd`` counts every candidate it paid for. ``mediagen plan`` compares the
spec's candidate gen_keys with the recorded ones and the outputs with the chosen
candidate's: unchanged means no call, no pick, no upload.

**Review.** With ``pick: review`` the engine generates and scores every
candidate, then stops (the entry is ``pending``, with its scored candidates) and
waits for a decision from outside (``gather`` in :mod:`mediagen.engine.candidates`,
then ``decide`` in :mod:`mediagen.engine.decisions`); approving publishes that
candidate, as ``auto`` would have.
"""

from __future__ import annotations

from enum import StrEnum

MIN_CANDIDATES = 1
MAX_CANDIDATES = 8
DEFAULT_CANDIDATES = 1


class PickMode(StrEnum):
    """How one candidate of several is chosen for publishing."""

    AUTO = "auto"  # the best score (mediagen.imaging.scoring)
    REVIEW = "review"  # a person decides (Prefect form or `mediagen review`)


DEFAULT_PICK = PickMode.AUTO

__all__ = ["DEFAULT_CANDIDATES", "DEFAULT_PICK", "MAX_CANDIDATES", "MIN_CANDIDATES", "PickMode"]
