"""Low-level signal features for the quality heads, time-aligned with the audio tower's frames.

A contrastive audio encoder is trained to ignore what a quality model needs (noise floors, band limits,
codec holes, clipping, dropouts), so the quality (MI) axes can pool these features beside the tower's
frame features (``ScoringConfig.signal_features``). The ``T`` log-mel frames of a clip are cut into
``T'`` contiguous chunks of (almost) equal length, one per tower frame, and each chunk gives one vector:

* the log-mel compressed to :data:`BANDS` bands (mean of the mel bins of a band): the band's mean and its
  minimum (the noise floor) over the chunk;
* frame energy (mean, std and minimum in dB), spectral flatness, high-band energy ratio, bandwidth (highest
  band within 40 dB of the frame's peak), the fraction of cells at the log-mel floor and spectral flux;
* from the waveform: the fraction of samples at the clip's peak (hard clipping), crest factor and the
  fraction of (near) zero samples (dropouts);
* pitch drift (wow and flutter), which a log-mel cannot resolve: the spectral peaks of a 2048-point STFT
  (same hop and centring as the log-mel) are located to a fraction of a bin, each peak is matched to the
  nearest peak :data:`DRIFT_LAGS` frames later, and the median relative frequency change of the matched peaks
  is the frame's common-mode drift (a speed change moves every partial by the same ratio; one instrument's
  vibrato or a new note does not). Per chunk: log median absolute drift at each lag, log of the drift's
  lag-2 autocovariance (wow is smooth, estimation noise is not) and the fraction of frames with an estimate;
* musical descriptors for the text-alignment path (a prompt's key and tempo, which the contrastive encoder
  barely hears): a peak-based chroma (the same STFT's spectral peaks between :data:`CHROMA_BAND_HZ`, each
  adding its magnitude to its nearest pitch class, normalised per chunk to sum 1) and a tempo profile (the
  normalised autocorrelation of the log-mel onset envelope over the whole clip, its maximum over the lags of
  each band of :data:`TEMPO_EDGES_BPM`; the same for every chunk).

Everything is a deterministic function of the waveform and its log-mel; no learning happens here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import numpy as np

PITCH_CLASSES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")  # chroma bin i is pitch class i
CHROMA_BAND_HZ = (100.0, 4000.0)  # frequencies that count towards a chroma (the log-mel's chroma rows too)


def midi_number(freq_hz: np.ndarray) -> np.ndarray:
    """Fractional MIDI note number of each frequency (A4 = 440 Hz = 69); ``round(...) % 12`` is its pitch class."""
    return 12.0 * np.log2(freq_hz / 440.0) + 69.0


if TYPE_CHECKING:
    import torch

ArrayT = TypeVar("ArrayT", np.ndarray, "torch.Tensor")

BANDS = 16
NAMES = ([f"band{b}_mean" for b in range(BANDS)] + [f"band{b}_min" for b in range(BANDS)]
         + ["energy_mean", "energy_std", "energy_min", "flatness", "high_ratio", "bandwidth", "floor_fraction",
            "flux", "peak_fraction", "crest", "zero_fraction"]
         + ["drift_short", "drift_long", "drift_coherent", "drift_valid"])
TEMPO_EDGES_BPM = (50.0, 65.0, 80.0, 95.0, 115.0, 135.0, 160.0, 190.0, 230.0)
NAMES += [f"chroma_{n}" for n in PITCH_CLASSES] + [
    f"tempo_{lo:g}_{hi:g}" for lo, hi in zip(TEMPO_EDGES_BPM[:-1], TEMPO_EDGES_BPM[1:])]
SIGNAL_DIM = len(NAMES)
CHROMA_AT = NAMES.index("chroma_C")  # the 12 chroma columns start here (C = 0)
TEMPO_AT = CHROMA_AT + 12  # then one column per tempo band
ONSET_SMOOTH = np.hanning(7)[1:-1] / np.hanning(7)[1:-1].sum()  # 5-frame smoothing of the onset envelope
_EPS = 1e-10
DRIFT_FFT = 2048
DRIFT_LAGS = (3, 8)  # frames: about 48 and 128 ms at a 256-sample hop and 16 kHz
DRIFT_BAND_HZ = (150.0, 5000.0)
DRIFT_PEAKS = 24  # strongest peaks per frame
DRIFT_MAX = 0.03  # a peak further than 3% (half a semitone) away is another note, not drift
_LOG_FLOOR = 1e-5


def chunk_edges(n_frames: int, n_chunks: int) -> np.ndarray:
    """``n_chunks + 1`` edges cutting ``n_frames`` log-mel frames into contiguous, almost equal chunks."""
    if n_chunks < 1 or n_frames < n_chunks:
        raise ValueError(f"cannot cut {n_frames} frames into {n_chunks} chunks")
    return np.round(np.linspace(0, n_frames, n_chunks + 1)).astype(np.int64)


def signal_features(mel_db: np.ndarray, wave: np.ndarray, n_chunks: int, hop_length: int,
                    sample_rate: int = 16000) -> np.ndarray:
    """``[n_chunks, SIGNAL_DIM]`` float32 features of a log-mel ``[n_mels, T]`` (dB) and its waveform."""
    mel_db = np.asarray(mel_db, dtype=np.float64)
    wave = np.asarray(wave, dtype=np.float64).ravel()
    n_mels, n_frames = mel_db.shape
    edges = chunk_edges(n_frames, n_chunks)
    bands = np.stack([g.mean(axis=0) for g in np.array_split(mel_db, min(BANDS, n_mels), axis=0)])
    if bands.shape[0] < BANDS:  # fewer mel bins than bands: repeat the top band
        bands = np.concatenate([bands, np.repeat(bands[-1:], BANDS - bands.shape[0], axis=0)])
    per_frame = _frame_stats(mel_db)
    spec = _spectrum(wave, n_frames, hop_length)
    drift = pitch_drift(wave, n_frames, hop_length, sample_rate, spec)
    chroma = _peak_chroma(spec, sample_rate)
    tempo = tempo_profile(mel_db, sample_rate / hop_length)
    floor = mel_db.min()
    peak = float(np.abs(wave).max()) if wave.size else 0.0
    out = np.zeros((n_chunks, SIGNAL_DIM), dtype=np.float64)
    for j in range(n_chunks):
        lo, hi = int(edges[j]), int(edges[j + 1])
        s_lo, s_hi = lo * hop_length, min(wave.size, hi * hop_length)
        out[j] = np.concatenate([bands[:, lo:hi].mean(axis=1), bands[:, lo:hi].min(axis=1),
                                 _chunk_stats(per_frame, mel_db[:, lo:hi], bands[:, lo:hi], floor, lo, hi),
                                 _wave_stats(wave[s_lo:s_hi] if s_hi > s_lo else wave, peak),
                                 _drift_stats([d[lo:hi] for d in drift]), _normalised(chroma[lo:hi].sum(axis=0)),
                                 tempo])
    return out.astype(np.float32)


def _frame_stats(mel_db: np.ndarray) -> dict[str, np.ndarray]:
    """Per log-mel frame: energy (dB), flatness (dB), high-band ratio (dB), bandwidth (fraction of bins)."""
    power = np.power(10.0, mel_db / 10.0)
    n_mels = mel_db.shape[0]
    total = power.sum(axis=0) + _EPS
    flatness = np.exp(np.log(power + _EPS).mean(axis=0)) / (power.mean(axis=0) + _EPS)
    above = mel_db >= mel_db.max(axis=0, keepdims=True) - 40.0
    top = n_mels - 1 - np.argmax(above[::-1], axis=0)  # highest bin within 40 dB of the frame's peak
    return {"energy": 10.0 * np.log10(total / n_mels), "flatness": 10.0 * np.log10(flatness + _EPS),
            "high": 10.0 * np.log10(power[-max(1, n_mels // 4):].sum(axis=0) / total + _EPS),
            "bandwidth": (top + 1) / n_mels}


def _chunk_stats(per_frame: dict[str, np.ndarray], mel: np.ndarray, bands: np.ndarray, floor: float,
                 lo: int, hi: int) -> np.ndarray:
    energy = per_frame["energy"][lo:hi]
    flux = np.abs(np.diff(bands, axis=1)).mean() if bands.shape[1] > 1 else 0.0
    return np.array([energy.mean(), energy.std(), energy.min(), per_frame["flatness"][lo:hi].mean(),
                     per_frame["high"][lo:hi].mean(), per_frame["bandwidth"][lo:hi].mean(),
                     float(np.mean(mel <= floor + 1.0)), flux])


def _wave_stats(x: np.ndarray, peak: float) -> np.ndarray:
    """Log fraction of samples at the clip's peak, crest factor (dB), log fraction of (near) zero samples."""
    if x.size == 0 or peak <= 0:
        return np.array([np.log10(1e-5), 0.0, 0.0])
    at_peak = float(np.mean(np.abs(x) >= 0.999 * peak))
    rms = float(np.sqrt(np.mean(x * x)))
    crest = 20.0 * np.log10((np.abs(x).max() + _EPS) / (rms + _EPS))
    zeros = float(np.mean(np.abs(x) < 2.0 ** -15))
    return np.array([np.log10(at_peak + 1e-5), crest, np.log10(zeros + 1e-5)])


def _spectrum(wave: np.ndarray, n_frames: int, hop_length: int, first: int = 0) -> np.ndarray:
    """``[n_frames - first, DRIFT_FFT // 2 + 1]`` magnitudes of a Hann-windowed STFT centred on each log-mel frame
    from ``first`` on."""
    n_fft = DRIFT_FFT
    x = np.pad(np.asarray(wave, dtype=np.float64), (n_fft // 2, n_fft // 2 + n_frames * hop_length))
    starts = hop_length * np.arange(first, n_frames)
    return np.abs(np.fft.rfft(x[starts[:, None] + np.arange(n_fft)[None, :]] * np.hanning(n_fft), axis=1))


def _spectral_peaks(spec: np.ndarray, sample_rate: int, band_hz: tuple[float, float]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Local maxima within 40 dB of each frame's peak inside ``band_hz``: ``(is_peak, position, level, lo)``.

    ``position`` is the peak frequency in fractional bins (parabolic interpolation of the dB level), ``level``
    the dB level; both ``[n_frames, bins in band]``, the band starting at bin ``lo``.
    """
    n_fft = 2 * (spec.shape[1] - 1)
    level = 20.0 * np.log10(spec + _EPS)
    lo = max(1, int(band_hz[0] * n_fft / sample_rate))
    hi = min(level.shape[1] - 1, int(band_hz[1] * n_fft / sample_rate))
    left, mid, right = level[:, lo - 1:hi - 1], level[:, lo:hi], level[:, lo + 1:hi + 1]
    is_peak = (mid > left) & (mid >= right) & (mid > level.max(axis=1, keepdims=True) - 40.0) & (spec[:, lo:hi] > 0)
    curve = left - 2.0 * mid + right
    offset = np.where(np.abs(curve) > _EPS, 0.5 * (left - right) / np.where(np.abs(curve) > _EPS, curve, 1.0), 0.0)
    return is_peak, np.arange(lo, hi)[None, :] + offset, mid, lo


def _peak_chroma(spec: np.ndarray, sample_rate: int) -> np.ndarray:
    """``[n_frames, 12]``: per frame, the magnitude of its spectral peaks summed by nearest pitch class (C = 0)."""
    is_peak, position, _, lo = _spectral_peaks(spec, sample_rate, CHROMA_BAND_HZ)
    n_fft = 2 * (spec.shape[1] - 1)
    freq = np.maximum(position, 1e-3) * sample_rate / n_fft
    pitch_class = np.round(midi_number(freq)).astype(np.int64) % 12
    weight = np.where(is_peak, spec[:, lo:lo + is_peak.shape[1]], 0.0)
    chroma = np.zeros((spec.shape[0], 12))
    rows = np.broadcast_to(np.arange(spec.shape[0])[:, None], pitch_class.shape)
    np.add.at(chroma, (rows, pitch_class), weight)
    return chroma


def peak_chroma(wave: np.ndarray, sample_rate: int, hop_length: int, block: int = 1024) -> np.ndarray:
    """``[frames, 12]`` peak chroma of a whole waveform, one frame per ``hop_length`` samples, computed ``block``
    frames at a time so a long track never holds its whole spectrum."""
    wave = np.asarray(wave, dtype=np.float64).ravel()
    n_frames = max(1, wave.size // hop_length)
    return np.concatenate([_peak_chroma(_spectrum(wave, min(lo + block, n_frames), hop_length, lo), sample_rate)
                           for lo in range(0, n_frames, block)])


def _normalised(chroma: np.ndarray) -> np.ndarray:
    """A pitch-class profile scaled to sum 1 (uniform when silent)."""
    total = chroma.sum()
    return chroma / total if total > _EPS else np.full(12, 1.0 / 12)


def onset_envelope(mel_db: ArrayT) -> ArrayT:
    """Onset envelope ``[..., T - 1]`` of a dB log-mel ``[..., n_mels, T]``: mean over bins of each bin's rise.

    The rise of a bin is its half-wave rectified change from frame to frame. One rule for numpy
    (:func:`tempo_profile`) and torch (the audio tower's fact branch, ``muscall.models.facts``): the same
    elementwise ops and one mean, in the caller's dtype.
    """
    return (mel_db[..., 1:] - mel_db[..., :-1]).clip(min=0).mean(-2)


def tempo_profile(mel_db: np.ndarray, frame_rate: float) -> np.ndarray:
    """Onset-envelope autocorrelation of a log-mel (dB), max over each tempo band of :data:`TEMPO_EDGES_BPM`.

    Onset envelope (:func:`onset_envelope`) smoothed over 5 frames (:data:`ONSET_SMOOTH`), minus its mean;
    its autocorrelation is normalised by lag 0 and by the number of overlapping frames. A band whose lags do
    not fit in the clip gets 0.
    """
    mel_db = np.asarray(mel_db, dtype=np.float64)
    onset = onset_envelope(mel_db) if mel_db.shape[1] > 1 else np.zeros(1)
    onset = np.convolve(onset, ONSET_SMOOTH, mode="same")  # beats between two frame lags still line up
    onset = onset - onset.mean()
    n = onset.size
    spectrum = np.fft.rfft(onset, 2 * n)
    ac = np.fft.irfft(spectrum * np.conj(spectrum))[:n] / np.maximum(n - np.arange(n), 1)
    if ac[0] <= _EPS:
        return np.zeros(len(TEMPO_EDGES_BPM) - 1)
    ac = ac / ac[0]
    out = []
    for lo_bpm, hi_bpm in zip(TEMPO_EDGES_BPM[:-1], TEMPO_EDGES_BPM[1:]):
        lags = np.arange(int(np.ceil(60.0 * frame_rate / hi_bpm)), int(np.floor(60.0 * frame_rate / lo_bpm)) + 1)
        lags = lags[(lags > 0) & (lags < n // 2)]  # at least two periods inside the clip
        out.append(float(ac[lags].max()) if lags.size else 0.0)
    return np.array(out)


def pitch_drift(wave: np.ndarray, n_frames: int, hop_length: int, sample_rate: int,
                spec: np.ndarray | None = None) -> list[np.ndarray]:
    """Per log-mel frame and per lag in :data:`DRIFT_LAGS`: the common-mode relative frequency change (NaN: none).

    ``spec``: the frames' :data:`DRIFT_FFT`-point magnitudes when already computed (see :func:`signal_features`).
    """
    spec = _spectrum(wave, n_frames, hop_length) if spec is None else spec
    is_peak, position, mid, _ = _spectral_peaks(spec, sample_rate, DRIFT_BAND_HZ)
    peaks = []
    for t in range(n_frames):
        k = np.flatnonzero(is_peak[t])
        if k.size > DRIFT_PEAKS:
            k = k[np.argsort(mid[t, k])[-DRIFT_PEAKS:]]
        peaks.append(np.sort(position[t, k]))
    out = []
    for lag in DRIFT_LAGS:
        d = np.full(n_frames, np.nan)
        for t in range(n_frames - lag):
            a, b = peaks[t], peaks[t + lag]
            if a.size < 3 or b.size < 3:
                continue
            j = np.clip(np.searchsorted(b, a), 1, b.size - 1)
            nearest = np.where(np.abs(b[j] - a) < np.abs(b[j - 1] - a), b[j], b[j - 1])
            ratio = nearest / a - 1.0
            ratio = ratio[np.abs(ratio) < DRIFT_MAX]
            if ratio.size >= 3:
                d[t] = np.median(ratio)
        out.append(d)
    return out


def _drift_stats(drift: list[np.ndarray]) -> np.ndarray:
    """Log median |drift| per lag, log sqrt of the longest lag's lag-2 autocovariance, fraction estimated."""
    stats = []
    for d in drift:
        v = d[np.isfinite(d)]
        stats.append(np.log10(np.median(np.abs(v)) + _LOG_FLOOR) if v.size else np.log10(_LOG_FLOOR))
    long = np.nan_to_num(drift[-1])
    cov = float(np.mean(long[:-2] * long[2:])) if long.size > 2 else 0.0
    stats.append(np.log10(np.sqrt(max(cov, 0.0)) + _LOG_FLOOR))
    stats.append(float(np.isfinite(drift[0]).mean()) if drift[0].size else 0.0)
    return np.array(stats)
