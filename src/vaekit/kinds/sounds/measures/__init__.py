"""How good generated, reconstructed and converted clips are: three families of numbers read together.

    judged accuracy         the share of clips that an independent classifier (`Judge`, trained on the real
                            training waveforms) assigns to the class they were made for: converted clips to
                            their target class, a conditional model's samples and reconstructions to their
                            label; beside it the judge's accuracy on real test clips and chance (`conversion`);
    reconstruction quality  log-spectral distance, spectral convergence and the multi-resolution STFT distance
                            between true and decoded waves (`quality.reconstruction_measures`);
    the Griffin-Lim floor   the same numbers for clips rebuilt from their true log-mel spectrograms, the best
                            that a perfect spectrogram model can sound through this inversion
                            (`quality.griffin_lim_floor`).

Like the sentence measures (`vaekit.kinds.texts.measures`), the judge is a plain, fixed method that owes
nothing to the models it judges, so that a model cannot score well by fooling a judge it shaped.
"""

from vaekit.kinds.sounds.measures.conversion import conversion_measures, judged_accuracy
from vaekit.kinds.sounds.measures.judge import Judge, JudgeFeatures, clip_features
from vaekit.kinds.sounds.measures.quality import griffin_lim_floor, reconstruction_measures

__all__ = ["Judge", "JudgeFeatures", "clip_features", "conversion_measures", "griffin_lim_floor",
           "judged_accuracy", "reconstruction_measures"]
