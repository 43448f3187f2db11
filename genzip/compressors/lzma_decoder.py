"""The LZMA chunk decoder, counting what each coded decision costs: LZMA's model, one decision a step.

`decode_chunk` follows the LZMA specification (the public-domain LzmaSpec
reference decoder): a range decoder over adaptive binary probabilities (11-bit,
moved 1/32 of the way each time), literals through 8-bit trees (matched against
the byte at the last distance after a match), and matches as a length and a
distance or one of the last four distances. As it decodes it adds -log2 p of
every decision, from a table of integers in 1/COST_SCALE bit rounded once, so
the total is exact and the same on every machine; a direct bit costs one bit.
Its registers can be saved and resumed, which `genzip.compressors.lzma_bits`
uses to decode a context shared by many streams once.
"""

from __future__ import annotations

import math

import numba
import numpy as np

#: costs are integers in this many units per bit
COST_SCALE = 1 << 16
PROB_ONE = 1 << 11  # the model's probabilities are 11-bit fixed point
_TOP = 1 << 24  # the range coder renormalises below this
_MASK32 = 0xFFFFFFFF
#: COST_TABLE[p] = -log2(p / 2048) in 1/COST_SCALE bit, from Python's correctly rounded log2
COST_TABLE = np.array([0] + [round(-COST_SCALE * math.log2(p / PROB_ONE)) for p in range(1, PROB_ONE)])

# -- where each of the model's probability arrays starts in one flat array ------
_IS_MATCH = 0  # [12 states][16 position states]
_IS_REP = _IS_MATCH + 192  # [12]
_IS_REP_G0 = _IS_REP + 12
_IS_REP_G1 = _IS_REP_G0 + 12
_IS_REP_G2 = _IS_REP_G1 + 12
_IS_REP0_LONG = _IS_REP_G2 + 12  # [12][16]
_POS_SLOT = _IS_REP0_LONG + 192  # [4 length states][64]
_SPEC_POS = _POS_SLOT + 256  # reverse trees of distance slots 4..13 (115)
_ALIGN = _SPEC_POS + 115  # [16]
_LEN = _ALIGN + 16  # a length coder: choice, choice2, low [16][8], mid [16][8], high [256]
_LEN_SIZE = 2 + 128 + 128 + 256
_REP_LEN = _LEN + _LEN_SIZE
_LITERAL = _REP_LEN + _LEN_SIZE  # [0x300 << (lc + lp)]

# What the next decision of a chunk's decoder is (one decision per step of its loop)
_MATCH, _LITERAL_BIT, _MATCHED_BIT, _REP, _REP_G0, _REP0_LONG, _REP_G1, _REP_G2 = range(8)
_CHOICE, _CHOICE2, _LENGTH_BIT, _SLOT_BIT, _REVERSE_BIT, _DIRECT_BIT = range(8, 14)
# the registers a decoder resumes from: range, code, cursor, cost so far, position, LZMA state, rep0..3
RANGE, CODE, CURSOR, SPENT, POS, STATE, REP0 = 0, 1, 2, 3, 4, 5, 6
REGISTERS = 10
NEVER = 1 << 62  # a pause position no chunk reaches


@numba.njit(cache=True)
def new_probabilities(lc: int, lp: int) -> np.ndarray:
    """The model's probabilities for literal context bits lc and position bits lp, at one half."""
    return np.full(_LITERAL + (0x300 << (lc + lp)), PROB_ONE // 2, dtype=np.int64)


@numba.njit(cache=True)
def decode_chunk(
    stream: np.ndarray,
    end: int,
    probs: np.ndarray,
    props: np.ndarray,
    out: np.ndarray,
    stop: int,
    regs: np.ndarray,
    cost: np.ndarray,
    pause: int,
    marks: np.ndarray,
) -> bool:  # pragma: no cover - compiled
    """Decode the LZMA chunk whose range-coded bytes end at stream[end] into out[regs[POS]:stop],
    resuming from (and leaving in) `regs`; props = lc, lp, pb. False if the data is corrupt.

    Stops early at the first symbol boundary at or past position `pause`. When `marks`
    is not empty, marks[pos] is set to the read cursor at each symbol boundary pos.
    One loop step is one coded decision: `phase` says which, `m` walks the current
    binary tree. The decision is decoded in one place, then the step moves on.
    """
    lc, lp, pb = props[0], props[1], props[2]
    rng, code, cursor, spent = regs[RANGE], regs[CODE], regs[CURSOR], regs[SPENT]
    pos, state = regs[POS], regs[STATE]
    rep0, rep1, rep2, rep3 = regs[REP0], regs[REP0 + 1], regs[REP0 + 2], regs[REP0 + 3]
    phase = _MATCH
    m = 1  # the node of the binary tree being walked
    base = 0  # where that tree's probabilities start
    bits = 0  # how many bits the tree has (or direct bits remain)
    k = 0  # bits of a reverse tree done so far
    match_byte = 0
    is_rep = False
    length = 0
    dist = 0
    pos_state = 0
    record = len(marks) > 0
    while pos < stop:
        if cursor > end:
            return False
        # --- which probability this decision uses
        if phase == _MATCH:
            if pos >= pause:
                break
            if record:
                marks[pos] = cursor
            pos_state = pos & ((1 << pb) - 1)
            i = _IS_MATCH + 16 * state + pos_state
        elif phase in (_LITERAL_BIT, _LENGTH_BIT, _SLOT_BIT, _REVERSE_BIT):
            i = base + m
        elif phase == _MATCHED_BIT:
            i = base + ((1 + ((match_byte >> 7) & 1)) << 8) + m
        elif phase == _REP:
            i = _IS_REP + state
        elif phase == _REP_G0:
            i = _IS_REP_G0 + state
        elif phase == _REP0_LONG:
            i = _IS_REP0_LONG + 16 * state + pos_state
        elif phase == _REP_G1:
            i = _IS_REP_G1 + state
        elif phase == _REP_G2:
            i = _IS_REP_G2 + state
        elif phase == _CHOICE:
            i = base
        elif phase == _CHOICE2:
            i = base + 1
        else:
            i = -1  # a direct bit: probability one half, no model
        # --- decode it (the encoder's adaptation, and its cost)
        if i >= 0:
            p = probs[i]
            bound = (rng >> 11) * p
            if code < bound:
                rng = bound
                spent += cost[p]
                probs[i] = p + ((PROB_ONE - p) >> 5)
                bit = 0
            else:
                rng -= bound
                code -= bound
                spent += cost[PROB_ONE - p]
                probs[i] = p - (p >> 5)
                bit = 1
        else:
            rng >>= 1
            bit = 0
            if code >= rng:
                code -= rng
                bit = 1
            spent += COST_SCALE
        if rng < _TOP:
            rng = (rng << 8) & _MASK32
            code = ((code << 8) | np.int64(stream[cursor])) & _MASK32
            cursor += 1
        # --- what it means, and what comes next
        copy = False
        if phase == _MATCH:
            if bit == 0:
                prev = out[pos - 1] if pos > 0 else 0
                base = _LITERAL + 0x300 * (((pos & ((1 << lp) - 1)) << lc) + (prev >> (8 - lc)))
                m = 1
                phase = _LITERAL_BIT
                if state >= 7:  # after a match: follow the byte at rep0 while the bits agree
                    if pos - rep0 - 1 < 0:
                        return False
                    match_byte = int(out[pos - rep0 - 1])
                    phase = _MATCHED_BIT
            else:
                phase = _REP
        elif phase in (_LITERAL_BIT, _MATCHED_BIT):
            m = (m << 1) | bit
            if phase == _MATCHED_BIT:
                if ((match_byte >> 7) & 1) != bit:
                    phase = _LITERAL_BIT
                match_byte <<= 1
            if m >= 0x100:
                out[pos] = m - 0x100
                pos += 1
                state = 0 if state < 4 else (state - 3 if state < 10 else state - 6)
                phase = _MATCH
        elif phase == _REP:
            is_rep = bit == 1
            if is_rep:
                if pos == 0:
                    return False
                phase = _REP_G0
            else:
                rep3, rep2, rep1 = rep2, rep1, rep0
                base = _LEN
                phase = _CHOICE
        elif phase == _REP_G0:
            phase = _REP0_LONG if bit == 0 else _REP_G1
        elif phase == _REP0_LONG:
            if bit == 0:  # a one-byte repeat of rep0
                if pos - rep0 - 1 < 0:
                    return False
                out[pos] = out[pos - rep0 - 1]
                pos += 1
                state = 9 if state < 7 else 11
                phase = _MATCH
            else:
                base = _REP_LEN
                phase = _CHOICE
        elif phase == _REP_G1:
            if bit == 0:
                rep1, rep0 = rep0, rep1
                base = _REP_LEN
                phase = _CHOICE
            else:
                phase = _REP_G2
        elif phase == _REP_G2:
            if bit == 0:
                rep2, rep1, rep0 = rep1, rep0, rep2
            else:
                rep3, rep2, rep1, rep0 = rep2, rep1, rep0, rep3
            base = _REP_LEN
            phase = _CHOICE
        elif phase == _CHOICE:
            if bit == 0:
                length, bits, base = 0, 3, base + 2 + 8 * pos_state
                m = 1
                phase = _LENGTH_BIT
            else:
                phase = _CHOICE2
        elif phase == _CHOICE2:
            if bit == 0:
                length, bits, base = 8, 3, base + 130 + 8 * pos_state
            else:
                length, bits, base = 16, 8, base + 258
            m = 1
            phase = _LENGTH_BIT
        elif phase == _LENGTH_BIT:
            m = (m << 1) | bit
            if m >= 1 << bits:
                length += m - (1 << bits) + 2
                if is_rep:
                    state = 8 if state < 7 else 11
                    copy = True
                else:
                    base = _POS_SLOT + 64 * min(length - 2, 3)
                    bits = 6
                    m = 1
                    phase = _SLOT_BIT
        elif phase == _SLOT_BIT:
            m = (m << 1) | bit
            if m >= 64:
                slot = m - 64
                if slot < 4:
                    dist = slot
                    copy = True
                else:
                    bits = (slot >> 1) - 1
                    dist = (2 | (slot & 1)) << bits
                    m = 1
                    k = 0
                    if slot < 14:
                        base = _SPEC_POS + dist - slot
                        phase = _REVERSE_BIT
                    else:
                        bits -= 4
                        phase = _DIRECT_BIT
        elif phase == _DIRECT_BIT:
            bits -= 1
            dist += bit << (bits + 4)
            if bits == 0:
                base = _ALIGN
                bits = 4
                phase = _REVERSE_BIT
        else:  # _REVERSE_BIT
            m = (m << 1) | bit
            dist += bit << k
            k += 1
            if k == bits:
                copy = True
        if copy:
            if not is_rep:
                rep0 = dist
                state = 7 if state < 7 else 10
            source = pos - rep0 - 1
            if source < 0 or pos + length > stop:  # also the end marker, which raw LZMA2 never writes
                return False
            for j in range(length):
                out[pos + j] = out[source + j]
            pos += length
            phase = _MATCH
    regs[RANGE], regs[CODE], regs[CURSOR], regs[SPENT] = rng, code, cursor, spent
    regs[POS], regs[STATE] = pos, state
    regs[REP0], regs[REP0 + 1], regs[REP0 + 2], regs[REP0 + 3] = rep0, rep1, rep2, rep3
    return cursor <= end


@numba.njit(cache=True)
def start_chunk(stream: np.ndarray, start: int, regs: np.ndarray) -> bool:  # pragma: no cover - compiled
    """Set the range decoder's registers for the chunk payload at stream[start]; False if it is corrupt."""
    if stream[start] != 0:
        return False
    regs[RANGE] = _MASK32
    regs[CODE] = 0
    for j in range(1, 5):
        regs[CODE] = (regs[CODE] << 8) | stream[start + j]
    regs[CURSOR] = start + 5
    regs[SPENT] = 0
    return True


@numba.njit(cache=True)
def literal_costs(
    probs: np.ndarray, props: np.ndarray, regs: np.ndarray, out: np.ndarray, cost: np.ndarray
) -> np.ndarray:
    """What coding each byte as a literal at position regs[POS] would cost (1/COST_SCALE bit, (256,)):
    the is-match decision, then its 8 bits through the literal tree (matched against the byte at rep0
    after a match), from the model state the decoder left."""
    lc, lp, pb = props[0], props[1], props[2]
    pos, state, rep0 = regs[POS], regs[STATE], regs[REP0]
    p = probs[_IS_MATCH + 16 * state + (pos & ((1 << pb) - 1))]
    prev = out[pos - 1] if pos > 0 else 0
    base = _LITERAL + 0x300 * (((pos & ((1 << lp) - 1)) << lc) + (prev >> (8 - lc)))
    matched_byte = int(out[pos - rep0 - 1]) if state >= 7 and pos - rep0 - 1 >= 0 else -1
    costs = np.empty(256, dtype=np.int64)
    for b in range(256):
        total = cost[p]
        m = 1
        matched = matched_byte >= 0
        for k in range(7, -1, -1):
            bit = (b >> k) & 1
            if matched:
                match_bit = (matched_byte >> k) & 1
                i = base + ((1 + match_bit) << 8) + m
                matched = match_bit == bit
            else:
                i = base + m
            total += cost[probs[i]] if bit == 0 else cost[PROB_ONE - probs[i]]
            m = (m << 1) | bit
        costs[b] = total
    return costs
