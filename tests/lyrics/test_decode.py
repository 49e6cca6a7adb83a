"""Decoding CTC posteriors: greedy and beam search against brute force, word times, CER/WER."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from gansep.data.lyrics import Vocabulary
from gansep.eval.transcribe import (beam_search_decode, collapse, error_rates, greedy_decode,
                                    word_times)


def posterior(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64).log()


def test_greedy_decodes_a_hand_built_posterior():
    vocabulary = Vocabulary("english")
    a, b, space = vocabulary.index["a"], vocabulary.index["b"], vocabulary.index[" "]
    frames = [a, a, 0, a, b, 0, space, b, b]
    probabilities = np.full((len(frames), len(vocabulary)), 0.1 / (len(vocabulary) - 1))
    probabilities[np.arange(len(frames)), frames] = 0.9
    labels = greedy_decode(torch.tensor(probabilities).log())
    assert vocabulary.decode(labels) == "aab b"
    assert collapse([1, 1, 0, 1, 2, 2]) == [1, 1, 2]


def brute_force_best(log_probs: np.ndarray) -> tuple[int, ...]:
    frames, classes = log_probs.shape
    totals: dict[tuple, float] = {}
    for path in itertools.product(range(classes), repeat=frames):
        labels = tuple(collapse(path))
        score = sum(log_probs[t, c] for t, c in enumerate(path))
        totals[labels] = np.logaddexp(totals.get(labels, -math.inf), score)
    return max(totals, key=totals.get)


def test_beam_search_finds_the_most_probable_labelling():
    # Best path is blank-blank (empty), but "1" collects more probability over its paths.
    rows = [[0.4, 0.35, 0.25], [0.4, 0.35, 0.25]]
    assert greedy_decode(posterior(rows)) == []
    assert beam_search_decode(posterior(rows), beam=8) == [1]
    assert brute_force_best(np.log(np.array(rows))) == (1,)
    rng = np.random.default_rng(0)
    for _ in range(20):
        rows = rng.dirichlet(np.ones(3) * 0.7, size=5)
        expected = brute_force_best(np.log(rows))
        assert tuple(beam_search_decode(torch.tensor(rows).log(), beam=64)) == expected


def test_word_times_from_the_path():
    vocabulary = Vocabulary("english")
    h, i, space = vocabulary.index["h"], vocabulary.index["i"], vocabulary.index[" "]
    path = [0, h, i, i, 0, space, 0, 0, i, 0]
    times = torch.arange(10) * 0.1
    assert word_times(path, times, vocabulary) == [
        ("hi", pytest.approx(0.1), pytest.approx(0.4)), ("i", pytest.approx(0.8),
                                                         pytest.approx(0.9))]


def test_error_rates_are_jiwers():
    rates = error_rates(["hello world", "abc"], ["helo world", "abd"])
    # 2 character edits over 14 reference characters; 2 wrong words of 3
    assert rates["CER"] == pytest.approx(2 / 14)
    assert rates["WER"] == pytest.approx(2 / 3)
    assert math.isnan(error_rates([""], ["x"])["CER"])
