"""Erlang B, Erlang C and Erlang A: what a given traffic needs in lines and agents.

Traffic: calls arrive as a Poisson process of rate λ (``arrival_rate``, calls per second);
a call holds an agent for an exponential time of mean h (``handle_seconds``: talk plus
wrap-up), μ = 1/h; the offered load is A = λh Erlang. Times are seconds, rates per second.

**Erlang B** (M/M/n/n, blocked calls are lost): the blocking probability of n lines,

    B(0) = 1,   B(n) = A B(n-1) / (n + A B(n-1)),

a recursion that never forms A^n or n! (Iversen, *Teletraffic Engineering and Network
Planning*, DTU / ITU-D, ch. 4).

**Erlang C** (M/M/n, callers wait and never give up): for A < n the probability of waiting is

    C(n, A) = n B(n, A) / (n - A (1 - B(n, A)))

(Iversen, ch. 12); the wait W has P(W > t) = C e^{-(nμ-λ)t} and E[W] = C / (nμ - λ), and
the occupancy is A/n. For A >= n the queue grows without bound: ``stable`` is False, every
call waits, none within any threshold, the mean wait is infinite, and ``answer_rate`` stays 1
because Erlang C assumes that nobody hangs up.

**Erlang A** (M/M/n+M, a caller gives up after an exponential patience of mean 1/θ):
Garnett, Mandelbaum & Reiman (2002), "Designing a call center with impatient customers",
M&SOM 4(3); Mandelbaum & Zeltyn, "The M/M/n+G queue: summary of performance measures".
The number k of calls in the system is a birth-death chain, birth rate λ, death rate
min(k, n)μ + max(k-n, 0)θ, stable for any load. Its stationary law π_k is built from the
ratios π_k/π_{k-1} in log space and cut where the rest of the tail is below 1e-16 of the
total. By PASTA an arrival finds k calls with probability π_k. One that finds k >= n has
i = k - n calls ahead; while j are ahead their number falls at rate r_j = nμ + jθ (a
completion, or an abandonment ahead) and the caller's own patience runs out at rate θ. So it
survives phase j with probability r_j / q_j, q_j = r_j + θ, and given survival the phase
lasts an Exp(q_j) time. With c = nμ/θ + 1 (so q_j = θ(c + j)):

    P(served | i ahead)       = Π_{j<=i} r_j/q_j = nμ / (nμ + (i+1)θ)    (it telescopes)
    E[W; served | i ahead]    = P(served | i) Σ_{j<=i} 1/q_j
    P(served by t | i ahead)  = P(served | i) P(N > i),   N ~ NegBinomial(c, 1 - e^{-θt}),

the last because e^{-θT} for T = Σ_{j<=i} Exp(θ(c + j)) is a product of independent
Beta(c+j, 1), i.e. Beta(c, i+1), whose tail is that negative-binomial sum; its weights are
summed in log space. The answered fraction equals 1 - θ E[queue] / λ (abandonments balance
the queue), the quick-answer rate (即応率) is answered-within-t / answered, occupancy is
λ h (answered fraction) / n, and as θ → 0 every figure tends to Erlang C. With no agent
nobody is answered: ``answer_rate`` 0, ``quick_answer_rate`` 0, mean wait infinite.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable
from dataclasses import dataclass

#: The stationary law's tail is cut where what is left is below this share of the total.
_TAIL_SHARE = 1e-16
#: A queue (Erlang A) whose law needs more states than this is refused: it only happens
#: when patience is very long and the load exceeds the agents (use Erlang C there).
_MAX_QUEUE_STATES = 1_000_000


def _check_count(name: str, value: int) -> None:
    try:
        whole = operator.index(value)  # an int, or an integer type such as numpy's
    except TypeError:
        whole = -1
    if isinstance(value, bool) or whole < 0:
        raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")


def _is_number(value: object, accept: Callable[[float], bool]) -> bool:
    """A real number (int, float, numpy's) that `accept` accepts; bool is no number here."""
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and accept(float(value)))


def _check_amount(name: str, value: float) -> None:
    if not _is_number(value, lambda x: math.isfinite(x) and x >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _check_patience(patience_seconds: float | None) -> None:
    if patience_seconds is not None and not _is_number(patience_seconds, lambda x: x > 0):
        raise ValueError(
            f"patience_seconds must be > 0 (or None: nobody gives up), got {patience_seconds!r}")


def _check_target(name: str, value: float | None) -> None:
    if value is not None and not _is_number(value, lambda x: 0 < x <= 1):
        raise ValueError(f"{name} must be a fraction in (0, 1], got {value!r}")


def erlang_b(lines: int, load: float) -> float:
    """Blocking probability of `lines` servers offered `load` Erlang (recursion
    B(n) = A B(n-1) / (n + A B(n-1)))."""
    _check_count("lines", lines)
    _check_amount("load", load)
    blocking = 1.0
    for n in range(1, lines + 1):
        blocking = load * blocking / (n + load * blocking)
    return blocking


def lines_for_blocking(load: float, blocking: float) -> int:
    """The fewest lines whose Erlang B blocking is <= `blocking` (0 < blocking < 1);
    load 0 -> 0."""
    _check_amount("load", load)
    if not _is_number(blocking, lambda x: 0 < x < 1):
        raise ValueError(f"blocking must be a fraction in (0, 1), got {blocking!r}")
    if load == 0:
        return 0
    lines, lost = 0, 1.0
    while lost > blocking:
        lines += 1
        lost = load * lost / (lines + load * lost)
    return lines


def erlang_c(agents: int, load: float) -> float:
    """Probability an arriving call waits (M/M/n); 1.0 when load >= agents."""
    _check_count("agents", agents)
    _check_amount("load", load)
    if load >= agents:
        return 1.0
    blocking = erlang_b(agents, load)
    return agents * blocking / (agents - load * (1 - blocking))


@dataclass(frozen=True)
class Prediction:
    """What `agents` agents achieve on a traffic, in the long run."""

    agents: int
    arrival_rate: float  #: calls per second offered to the queue
    handle_seconds: float  #: mean handle time (talk + wrap-up)
    #: mean patience (exponential); None = callers never give up (Erlang C)
    patience_seconds: float | None
    answer_within: float  #: the quick-answer threshold, seconds
    answer_rate: float  #: fraction of offered calls that reach an agent (1 - abandoned)
    #: of the answered calls, the fraction answered within `answer_within`
    #: (KPI 即応率 = quick answered / answered)
    quick_answer_rate: float
    wait_probability: float  #: fraction of offered calls that wait at all
    mean_wait_seconds: float  #: mean wait of the answered calls (ASA); math.inf if unstable
    occupancy: float  #: carried load / agents (fraction of time agents are busy), <= 1
    #: False only for Erlang C with load >= agents (the queue grows without bound)
    stable: bool

    @property
    def load(self) -> float:
        """The offered load in Erlang."""
        return self.arrival_rate * self.handle_seconds


def predict(agents: int, arrival_rate: float, handle_seconds: float,
            patience_seconds: float | None = None, answer_within: float = 10.0) -> Prediction:
    """Erlang C when patience is None (or infinite), else Erlang A (M/M/n+M)."""
    _check_count("agents", agents)
    _check_amount("arrival_rate", arrival_rate)
    _check_amount("handle_seconds", handle_seconds)
    _check_patience(patience_seconds)
    _check_amount("answer_within", answer_within)
    if arrival_rate == 0:
        return Prediction(agents, 0.0, handle_seconds, patience_seconds, answer_within,
                          answer_rate=1.0, quick_answer_rate=1.0, wait_probability=0.0,
                          mean_wait_seconds=0.0, occupancy=0.0, stable=True)
    if handle_seconds == 0:
        raise ValueError(f"handle_seconds must be > 0 when calls arrive, got {handle_seconds!r}")
    if patience_seconds is None or math.isinf(patience_seconds):
        return _erlang_c_prediction(agents, arrival_rate, handle_seconds, patience_seconds,
                                    answer_within)
    return _erlang_a_prediction(agents, arrival_rate, handle_seconds, patience_seconds,
                                answer_within)


def _erlang_c_prediction(agents: int, arrival_rate: float, handle_seconds: float,
                         patience_seconds: float | None, answer_within: float) -> Prediction:
    load = arrival_rate * handle_seconds
    if load >= agents:
        return Prediction(agents, arrival_rate, handle_seconds, patience_seconds, answer_within,
                          answer_rate=1.0, quick_answer_rate=0.0, wait_probability=1.0,
                          mean_wait_seconds=math.inf, occupancy=1.0 if agents else 0.0,
                          stable=False)
    waits = erlang_c(agents, load)
    drain = agents / handle_seconds - arrival_rate  # nμ - λ, per second
    return Prediction(agents, arrival_rate, handle_seconds, patience_seconds, answer_within,
                      answer_rate=1.0,
                      quick_answer_rate=1.0 - waits * math.exp(-drain * answer_within),
                      wait_probability=waits, mean_wait_seconds=waits / drain,
                      occupancy=load / agents, stable=True)


def _log_add(log_a: float, log_b: float) -> float:
    """log(e^a + e^b) without overflow."""
    if log_a < log_b:
        log_a, log_b = log_b, log_a
    if log_b == -math.inf:
        return log_a
    return log_a + math.log1p(math.exp(log_b - log_a))


def _stationary_law(agents: int, arrival_rate: float, service_rate: float,
                    abandon_rate: float) -> tuple[list[float], list[float]]:
    """π_k of the M/M/n+M chain, split into k < n (nobody waits) and k = n + i (i ahead)."""
    log_load = math.log(arrival_rate / service_rate)
    log_free = [k * log_load - math.lgamma(k + 1) for k in range(agents)]
    log_total = -math.inf
    for log_weight in log_free:
        log_total = _log_add(log_total, log_weight)
    all_busy = agents * service_rate  # nμ
    log_arrival = math.log(arrival_rate)
    log_weight = agents * log_load - math.lgamma(agents + 1)
    log_busy = [log_weight]
    log_total = _log_add(log_total, log_weight)
    while True:
        ratio = arrival_rate / (all_busy + len(log_busy) * abandon_rate)  # π_{k+1} / π_k
        if ratio < 1 and (log_weight + math.log(ratio / (1 - ratio))
                          < log_total + math.log(_TAIL_SHARE)):
            break  # ratios only fall: the rest is below a geometric series
        if len(log_busy) >= _MAX_QUEUE_STATES:
            raise ValueError(
                f"the queue is too long to compute (more than {_MAX_QUEUE_STATES} calls): "
                f"patience_seconds {1 / abandon_rate!r} with a load above the agents; "
                "use patience_seconds=None (Erlang C)")
        log_weight += log_arrival - math.log(all_busy + len(log_busy) * abandon_rate)
        log_busy.append(log_weight)
        log_total = _log_add(log_total, log_weight)
    return ([math.exp(w - log_total) for w in log_free],
            [math.exp(w - log_total) for w in log_busy])


def _erlang_a_prediction(agents: int, arrival_rate: float, handle_seconds: float,
                         patience_seconds: float, answer_within: float) -> Prediction:
    service_rate = 1.0 / handle_seconds  # μ
    abandon_rate = 1.0 / patience_seconds  # θ
    all_busy = agents * service_rate  # nμ
    free, busy = _stationary_law(agents, arrival_rate, service_rate, abandon_rate)
    answered = quick = sum(free)  # those who find an agent free, at once
    waited_and_answered = 0.0  # E[W; answered]
    phase_means = 0.0  # Σ_{j<=i} 1/q_j
    # N ~ NegBinomial(c, p): log P(N = i), and P(N <= i); log(p/θ) for the ratio of weights
    log_weight_n = -(all_busy + abandon_rate) * answer_within
    log_p_per_abandon = (math.log(-math.expm1(-abandon_rate * answer_within) / abandon_rate)
                         if answer_within > 0 else -math.inf)
    below = 0.0
    for ahead, share in enumerate(busy):
        leave_rate = all_busy + (ahead + 1) * abandon_rate  # q_i
        served = all_busy / leave_rate  # P(served | i ahead)
        phase_means += 1.0 / leave_rate
        answered += share * served
        waited_and_answered += share * served * phase_means
        if answer_within > 0:
            below += math.exp(log_weight_n)
            quick += share * served * max(0.0, 1.0 - below)
            log_weight_n += log_p_per_abandon + math.log(leave_rate) - math.log(ahead + 1)
    answered = min(answered, 1.0)
    return Prediction(
        agents, arrival_rate, handle_seconds, patience_seconds, answer_within,
        answer_rate=answered,
        quick_answer_rate=min(quick / answered, 1.0) if answered > 0 else 0.0,
        wait_probability=min(sum(busy), 1.0),
        mean_wait_seconds=waited_and_answered / answered if answered > 0 else math.inf,
        occupancy=min(arrival_rate * answered * handle_seconds / agents, 1.0) if agents else 0.0,
        stable=True)


def agents_needed(arrival_rate: float, handle_seconds: float, patience_seconds: float | None,
                  *, answer_rate: float | None = None, quick_answer_rate: float | None = None,
                  answer_within: float = 10.0, minimum: int = 0,
                  maximum: int = 1000) -> Prediction:
    """The prediction for the fewest agents (>= minimum, >= 1 when arrival_rate > 0) that
    meet every target given (fractions, e.g. 0.9); ValueError naming the targets if even
    `maximum` agents miss them. arrival_rate 0 -> a Prediction for `minimum` agents with
    answer_rate 1 and quick_answer_rate 1.

    Under Erlang C (patience None) a target is met only by a stable queue (agents > load);
    with no target at all, the fewest agents that keep the queue stable.
    The agents are tried one by one upwards from the fewest that could possibly do (load + 1
    for Erlang C; answer_rate x load for Erlang A, as agents carry at most their number in
    Erlang), so the answer is the fewest even where a rate is not monotone in the agents.
    Under Erlang A a quick_answer_rate target alone can be met by an overloaded queue (those
    who would wait long hang up, so the answered ones were quick): give answer_rate too.
    """
    _check_amount("arrival_rate", arrival_rate)
    _check_amount("handle_seconds", handle_seconds)
    _check_patience(patience_seconds)
    _check_amount("answer_within", answer_within)
    _check_count("minimum", minimum)
    _check_count("maximum", maximum)
    if maximum < minimum:
        raise ValueError(f"maximum ({maximum}) must be >= minimum ({minimum})")
    _check_target("answer_rate", answer_rate)
    _check_target("quick_answer_rate", quick_answer_rate)
    targets = {name: value for name, value in (("answer_rate", answer_rate),
                                              ("quick_answer_rate", quick_answer_rate))
               if value is not None}
    if arrival_rate == 0:
        return predict(minimum, arrival_rate, handle_seconds, patience_seconds, answer_within)
    load = arrival_rate * handle_seconds
    fewest = max(minimum, 1)
    if patience_seconds is None or math.isinf(patience_seconds):
        fewest = max(fewest, math.floor(load) + 1)
    elif answer_rate is not None:
        fewest = max(fewest, math.floor(answer_rate * load))
    for agents in range(fewest, maximum + 1):
        prediction = predict(agents, arrival_rate, handle_seconds, patience_seconds,
                             answer_within)
        if _meets(prediction, answer_rate, quick_answer_rate):
            return prediction
    at_maximum = predict(maximum, arrival_rate, handle_seconds, patience_seconds,
                         answer_within)
    wanted = ", ".join(f"{name} >= {value:g}" for name, value in targets.items())
    reached = ", ".join(f"{name} {getattr(at_maximum, name):.4f}" for name in targets)
    raise ValueError(f"even maximum={maximum} agents miss the targets "
                     f"{wanted or 'a stable queue'} (they reach {reached or 'an endless queue'})")


def _meets(prediction: Prediction, answer_rate: float | None,
           quick_answer_rate: float | None) -> bool:
    return (prediction.stable
            and (answer_rate is None or prediction.answer_rate >= answer_rate)
            and (quick_answer_rate is None
                 or prediction.quick_answer_rate >= quick_answer_rate))
