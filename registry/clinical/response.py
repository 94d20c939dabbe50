"""Tumour response: SWOG with minor response and RECIST 1.1 (CLINICAL.md §2).

Decisions beyond CLINICAL.md's text:

- Baseline targets are the baseline scan's lesions with `target` and not
  `new`.  SWOG needs both diameters at baseline; RECIST needs measurability
  (non-nodal long ≥ 10 mm, nodal short ≥ 15 mm).  A marked target that fails
  this is left out of the sum and reported as an observation.
- Without any measurable target at baseline a time point is PD (new lesion,
  non-target progression) or NE; it is never CR/PR/SD.
- A lesion measured with `long_mm == 0` has disappeared (product 0 even if
  `short_mm` is missing).  A target listed on a follow-up scan without the
  size its criteria need is not evaluated, like an unlisted one.
- Only lesions flagged `new` are new lesions.  RECIST counts a new lymph node
  only with a recorded short axis ≥ 10 mm.
- A baseline non-target not listed on a follow-up scan, or one without a
  status, counts as still present (it blocks CR, never causes PD).
- Ratios and percentages are rounded to 6 decimals before comparing, so the
  boundaries (−50 %, −25 %, +25 %, −30 %, +20 %, +5 mm) are exact.
- RECIST checks target PD before target CR.
- With confirmation on, a CR/PR is confirmed by a later time point (up to the
  first PD) ≥ `confirmation_days` after it whose response is CR or PR; CR
  confirmed only by PR counts as PR.  An unconfirmed CR/PR counts as MR
  (SWOG) or SD (RECIST), and then the 42-day rule applies to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from registry.clinical.courses import in_window
from registry.clinical.facts import LesionFact, ScanFact

CRITERIA: tuple[str, ...] = ("swog", "recist")
RESPONSES: tuple[str, ...] = ("CR", "PR", "MR", "SD", "PD", "NE")
RANK: dict[str, int] = {"CR": 4, "PR": 3, "MR": 2, "SD": 1}
BASELINE_MAX_DAYS = 120
MIN_STABLE_DAYS = 42
RECIST_MAX_TARGETS = 5
RECIST_MAX_TARGETS_PER_ORGAN = 2


@dataclass(frozen=True, slots=True)
class TimePoint:
    """One follow-up scan's response under one criteria (CLINICAL.md §2a/§2b)."""

    criteria: str  # "swog" | "recist"
    scan_key: int
    scan_date: date
    day: int  # days after the course start
    sum: float | None  # SPD in mm² (swog) or SoD in mm (recist) of the evaluated targets
    pct_vs_baseline: float | None
    pct_vs_nadir: float | None
    response: str  # CR PR MR SD PD NE
    reason: str
    all_targets_evaluated: bool
    not_evaluated: str  # comma-separated labels of targets not evaluated
    new_lesions: str  # comma-separated labels of new lesions that count


@dataclass(frozen=True, slots=True)
class BestResponse:
    """Best overall response of a course under one criteria (CLINICAL.md §2c)."""

    criteria: str
    response: str
    reason: str
    best_pct_change: float | None  # most negative % vs baseline up to the first PD
    scan_key: int | None  # the time point that gave the response
    scan_date: date | None


@dataclass(frozen=True, slots=True)
class Observation:
    """A data-quality remark on a scan (CLINICAL.md §2b, §8)."""

    code: str
    message: str
    scan_key: int | None = None


@dataclass(frozen=True, slots=True)
class CourseResponse:
    """Baseline, time points and best response of a course (CLINICAL.md §2)."""

    criteria: str
    baseline_scan_key: int | None
    time_points: tuple[TimePoint, ...]
    best: BestResponse
    first_pd_date: date | None


def select_baseline_scan(scans: Iterable[ScanFact], start: date) -> ScanFact | None:
    """Latest scan on or before `start`, at most 120 days before (CLINICAL.md §2)."""
    earliest = start - timedelta(days=BASELINE_MAX_DAYS)
    eligible = [s for s in scans if earliest <= s.date <= start]
    return max(eligible, key=lambda s: (s.date, s.key), default=None)


def select_follow_up_scans(
    scans: Iterable[ScanFact], start: date, window_end: date | None
) -> list[ScanFact]:
    """Scans after `start` inside the course window, by date (CLINICAL.md §2)."""
    return sorted(
        (s for s in scans if in_window(s.date, start, window_end)), key=lambda s: (s.date, s.key)
    )


def _fmt_pct(pct: float) -> str:
    return f"{pct:+.1f}".replace("-", "\u2212") + " %"


def _fmt_num(x: float) -> str:
    return f"{x:g}".replace("-", "\u2212")


def _sum_text(label: str, total: float, pct: float | None, reference: str) -> str:
    return f"{label} {_fmt_pct(pct)} vs {reference}" if pct is not None else f"{label} {total:g}"


def _not_evaluable(criteria: str, scan: ScanFact, start: date, reason: str) -> TimePoint:
    return TimePoint(
        criteria=criteria,
        scan_key=scan.key,
        scan_date=scan.date,
        day=(scan.date - start).days,
        sum=None,
        pct_vs_baseline=None,
        pct_vs_nadir=None,
        response="NE",
        reason=reason,
        all_targets_evaluated=False,
        not_evaluated="",
        new_lesions="",
    )


def _ratio(a: float, b: float) -> float:
    return round(a / b, 6)


def _pct(value: float, reference: float) -> float | None:
    # "+ 0.0": a change that rounds to nothing is 0, not -0.0 (which JSON and CSV print
    # as "-0.0", and which a database may or may not keep).
    return None if reference <= 0 else round((value - reference) / reference * 100.0, 6) + 0.0


def lesion_size(lesion: LesionFact, criteria: str) -> float | None:
    """A target's contribution to the sum, None if not evaluable (CLINICAL.md §2a/§2b).

    SWOG: long × short in mm².  RECIST: short axis of a node, else longest
    diameter, in mm.  `long_mm == 0` means disappeared.
    """
    long_mm, short_mm = lesion.long_mm, lesion.short_mm
    if criteria == "swog":
        if long_mm == 0 or short_mm == 0:
            return 0.0
        if long_mm is None or short_mm is None:
            return None
        return float(long_mm) * float(short_mm)
    if lesion.lymph_node:
        if short_mm is not None:
            return float(short_mm)
        return 0.0 if long_mm == 0 else None
    return None if long_mm is None else float(long_mm)


def recist_measurable(lesion: LesionFact) -> bool:
    """Measurable at baseline: non-nodal long ≥ 10 mm, nodal short ≥ 15 mm (CLINICAL.md §2b)."""
    if lesion.lymph_node:
        return lesion.short_mm is not None and lesion.short_mm >= 15
    return lesion.long_mm is not None and lesion.long_mm >= 10


def baseline_targets(baseline: ScanFact, criteria: str) -> list[LesionFact]:
    """The target lesions of a baseline scan that enter the sum (CLINICAL.md §2)."""
    marked = [lesion for lesion in baseline.lesions if lesion.target and not lesion.new]
    if criteria == "recist":
        return [lesion for lesion in marked if recist_measurable(lesion)]
    return [lesion for lesion in marked if lesion_size(lesion, "swog") is not None]


def recist_target_observations(baseline: ScanFact) -> list[Observation]:
    """Data-quality remarks on a baseline's targets under RECIST 1.1 (CLINICAL.md §2b).

    More than 5 targets, more than 2 in one organ (all lymph nodes are one
    organ; a missing organ is its own "unspecified" organ), and marked targets
    that are not measurable.  Warnings, never errors.
    """
    marked = [lesion for lesion in baseline.lesions if lesion.target and not lesion.new]
    notes: list[Observation] = []
    if len(marked) > RECIST_MAX_TARGETS:
        notes.append(
            Observation(
                "recist_too_many_targets",
                f"{len(marked)} target lesions; RECIST 1.1 allows at most {RECIST_MAX_TARGETS}.",
                baseline.key,
            )
        )
    per_organ: dict[str, list[str]] = {}
    for lesion in marked:
        organ = "lymph nodes" if lesion.lymph_node else (lesion.organ or "unspecified")
        per_organ.setdefault(organ, []).append(lesion.lesion)
    for organ, labels in sorted(per_organ.items()):
        if len(labels) > RECIST_MAX_TARGETS_PER_ORGAN:
            notes.append(
                Observation(
                    "recist_too_many_targets_in_organ",
                    f"{len(labels)} target lesions in {organ} ({', '.join(labels)}); "
                    f"RECIST 1.1 allows at most {RECIST_MAX_TARGETS_PER_ORGAN} per organ.",
                    baseline.key,
                )
            )
    for lesion in marked:
        if not recist_measurable(lesion):
            notes.append(
                Observation(
                    "recist_target_not_measurable",
                    f"Target {lesion.lesion} is not measurable at baseline under RECIST 1.1 "
                    "(non-nodal long < 10 mm or nodal short < 15 mm); left out of the SoD.",
                    baseline.key,
                )
            )
    return notes


def _counts_as_new(lesion: LesionFact, criteria: str) -> bool:
    if not lesion.new:
        return False
    if criteria == "recist" and lesion.lymph_node:
        return lesion.short_mm is not None and lesion.short_mm >= 10
    return True


def _sum_meets_pd(total: float, nadir: float, criteria: str) -> bool:
    if criteria == "swog":
        return total > 0 and (nadir <= 0 or _ratio(total, nadir) >= 1.25)
    if round(total - nadir, 6) < 5:
        return False
    return nadir <= 0 or _ratio(total, nadir) >= 1.2


def time_points(
    criteria: str, baseline: ScanFact | None, follow_ups: Sequence[ScanFact], start: date
) -> list[TimePoint]:
    """Time-point responses of a course's follow-up scans (CLINICAL.md §2a, §2b).

    Follow-ups are taken in date order; the nadir is the smallest sum at
    baseline or any earlier follow-up with every target evaluated.  No
    baseline: every time point is NE.
    """
    if criteria not in CRITERIA:
        raise ValueError(f"criteria must be one of {CRITERIA}, not {criteria!r}")
    label = "SPD" if criteria == "swog" else "SoD"
    ordered = sorted(follow_ups, key=lambda s: (s.date, s.key))
    if baseline is None:
        return [_not_evaluable(criteria, s, start, "NE: no baseline scan") for s in ordered]
    targets = baseline_targets(baseline, criteria)
    base_sum = sum(lesion_size(t, criteria) or 0.0 for t in targets)
    baseline_nontargets = {
        lesion.lesion for lesion in baseline.lesions if not lesion.target and not lesion.new
    }
    nadir = base_sum
    result: list[TimePoint] = []
    for scan in ordered:
        listed = {lesion.lesion: lesion for lesion in scan.lesions}
        sizes: dict[str, float] = {}
        missing: list[str] = []
        for t in targets:
            size = lesion_size(listed[t.lesion], criteria) if t.lesion in listed else None
            if size is None:
                missing.append(t.lesion)
            else:
                sizes[t.lesion] = size
        total = round(sum(sizes.values()), 6)
        new = [lesion.lesion for lesion in scan.lesions if _counts_as_new(lesion, criteria)]
        nontargets = [lesion for lesion in scan.lesions if not lesion.target and not lesion.new]
        progressing = [lesion.lesion for lesion in nontargets if lesion.status == "progression"]
        nt_present = any(lesion.status != "absent" for lesion in nontargets) or bool(
            baseline_nontargets - set(listed)
        )
        pct_base = _pct(total, base_sum) if not missing else None
        pct_nadir = _pct(total, nadir)
        complete = not missing
        sum_pd = bool(targets) and _sum_meets_pd(total, nadir, criteria)

        if new:
            response, reason = "PD", f"PD: new lesion {', '.join(new)}"
        elif progressing:
            response, reason = "PD", f"PD: non-target {', '.join(progressing)} progression"
        elif sum_pd:
            response = "PD"
            if pct_nadir is None:
                reason = f"PD: {label} {total:g} after a nadir of 0"
            else:
                reason = f"PD: {_sum_text(label, total, pct_nadir, 'nadir')}"
                if criteria == "recist":
                    reason += f" ({_fmt_num(round(total - nadir, 6))} mm)"
            if missing:
                reason += f" (evaluated targets only; {', '.join(missing)} not evaluated)"
        elif not targets:
            response, reason = "NE", "NE: no measurable target lesion at baseline"
        elif missing:
            response, reason = "NE", f"NE: target {', '.join(missing)} not evaluated"
        else:
            response, reason = _classify(criteria, targets, listed, pct_base, nt_present)
            if not reason:
                reason = f"{response}: {_sum_text(label, total, pct_base, 'baseline')}"
        result.append(
            TimePoint(
                criteria=criteria,
                scan_key=scan.key,
                scan_date=scan.date,
                day=(scan.date - start).days,
                sum=total,
                pct_vs_baseline=pct_base,
                pct_vs_nadir=pct_nadir,
                response=response,
                reason=reason,
                all_targets_evaluated=complete,
                not_evaluated=", ".join(missing),
                new_lesions=", ".join(new),
            )
        )
        if complete and targets:
            nadir = min(nadir, total)
    return result


def _classify(
    criteria: str,
    targets: list[LesionFact],
    listed: dict[str, LesionFact],
    pct: float | None,
    nt_present: bool,
) -> tuple[str, str]:
    """Non-PD response of a fully evaluated time point; empty reason = use the pct text."""
    if criteria == "swog":
        if all(lesion_size(listed[t.lesion], "swog") == 0 for t in targets) and not nt_present:
            return "CR", "CR: all target lesions disappeared, no non-target present"
        if pct is not None and pct <= -50:
            return "PR", ""
        if pct is not None and pct <= -25:
            return "MR", ""
        return "SD", ""
    target_cr = all(
        (lesion_size(listed[t.lesion], "recist") or 0.0) < 10
        if t.lymph_node
        else lesion_size(listed[t.lesion], "recist") == 0
        for t in targets
    )
    if target_cr and not nt_present:
        return "CR", "CR: non-nodal targets gone, nodal targets < 10 mm, no non-target present"
    if target_cr:
        return "PR", "PR: target CR with a non-target lesion present"
    if pct is not None and pct <= -30:
        return "PR", ""
    return "SD", ""


def _confirmed(
    i: int, window: Sequence[TimePoint], confirmation_days: int, criteria: str
) -> tuple[str, str]:
    tp = window[i]
    later = [
        t.response
        for t in window[i + 1 :]
        if (t.scan_date - tp.scan_date).days >= confirmation_days and t.response in ("CR", "PR")
    ]
    if tp.response == "CR" and "CR" in later:
        return "CR", ""
    if later:
        return "PR", "" if tp.response == "PR" else " (CR confirmed only as PR)"
    downgraded = "MR" if criteria == "swog" else "SD"
    return downgraded, f" (unconfirmed {tp.response} counted as {downgraded})"


def best_overall_response(
    points: Sequence[TimePoint],
    *,
    criteria: str,
    has_baseline: bool = True,
    confirmation_days: int | None = None,
) -> BestResponse:
    """Best overall response of a course from its time points (CLINICAL.md §2c).

    Looks at time points up to and including the first PD; CR > PR > MR > SD.
    SD and MR count only at ≥ 42 days after the start (else NE for this
    purpose).  If nothing counts and a PD is among them, the answer is PD (so
    a first evaluable PD gives PD).  No baseline or no follow-up: NE.
    `confirmation_days` (CLINICAL.md's `RESPONSE_CONFIRMATION_DAYS`, default
    off) requires CR/PR to be confirmed; see the module docstring.
    """
    if not has_baseline:
        return BestResponse(criteria, "NE", "NE: no baseline scan", None, None, None)
    ordered = sorted(points, key=lambda t: (t.scan_date, t.scan_key))
    if not ordered:
        return BestResponse(criteria, "NE", "NE: no follow-up scan", None, None, None)
    window: list[TimePoint] = []
    for tp in ordered:
        window.append(tp)
        if tp.response == "PD":
            break
    pcts = [t.pct_vs_baseline for t in window if t.pct_vs_baseline is not None]
    best_pct = min(pcts) if pcts else None
    best: tuple[int, str, str, TimePoint] | None = None
    early = False
    for i, tp in enumerate(window):
        response, note = tp.response, ""
        if response in ("CR", "PR") and confirmation_days:
            response, note = _confirmed(i, window, confirmation_days, criteria)
        if response in ("SD", "MR") and tp.day < MIN_STABLE_DAYS:
            early = True
            continue
        rank = RANK.get(response, 0)
        if rank and (best is None or rank > best[0]):
            best = (rank, response, note, tp)
    if best is not None:
        _, response, note, tp = best
        detail = tp.reason.split(": ", 1)[-1]
        reason = f"{response}: {detail}{note} on {tp.scan_date.isoformat()}"
        return BestResponse(criteria, response, reason, best_pct, tp.scan_key, tp.scan_date)
    pd = window[-1] if window[-1].response == "PD" else None
    if pd is not None:
        detail = pd.reason.split(": ", 1)[-1]
        reason = f"PD: first evaluable time point is PD ({detail}) on {pd.scan_date.isoformat()}"
        return BestResponse(criteria, "PD", reason, best_pct, pd.scan_key, pd.scan_date)
    reason = (
        f"NE: stable disease only before day {MIN_STABLE_DAYS}"
        if early
        else "NE: no evaluable time point"
    )
    return BestResponse(criteria, "NE", reason, best_pct, None, None)


def evaluate_course_response(
    scans: Iterable[ScanFact],
    start: date,
    window_end: date | None,
    *,
    criteria: str,
    confirmation_days: int | None = None,
) -> CourseResponse:
    """Baseline selection, time points and best response of one course (CLINICAL.md §2)."""
    scans = tuple(scans)
    baseline = select_baseline_scan(scans, start)
    follow_ups = select_follow_up_scans(scans, start, window_end)
    points = time_points(criteria, baseline, follow_ups, start)
    best = best_overall_response(
        points,
        criteria=criteria,
        has_baseline=baseline is not None,
        confirmation_days=confirmation_days,
    )
    first_pd = next((t.scan_date for t in points if t.response == "PD"), None)
    return CourseResponse(
        criteria=criteria,
        baseline_scan_key=None if baseline is None else baseline.key,
        time_points=tuple(points),
        best=best,
        first_pd_date=first_pd,
    )


def missing_targets(baseline: ScanFact, follow_up: ScanFact) -> list[str]:
    """Baseline target labels not listed on a follow-up scan (CLINICAL.md §2, §8)."""
    listed = {lesion.lesion for lesion in follow_up.lesions}
    return [
        lesion.lesion
        for lesion in baseline.lesions
        if lesion.target and not lesion.new and lesion.lesion not in listed
    ]


def unmeasured_targets(baseline: ScanFact, follow_up: ScanFact) -> list[str]:
    """Baseline targets a follow-up scan lists without a size one criteria needs (CLINICAL.md §8).

    Reading: "a follow-up scan missing a baseline target lesion" includes a target
    listed with its sizes left empty, which makes the time point NE just the same.
    """
    targets = {x.lesion for x in baseline.lesions if x.target and not x.new}
    return [
        x.lesion
        for x in follow_up.lesions
        if x.lesion in targets
        and not x.new
        and any(lesion_size(x, criteria) is None for criteria in ("swog", "recist"))
    ]
