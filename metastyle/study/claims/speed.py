"""Claim 2: an adapted model runs as fast as Johnson's (notebook 04 times both, same device)."""
from __future__ import annotations

from dataclasses import dataclass

from metastyle.study.claims.base import FAILS, HOLDS, Claim, Record, Source, Verdict, key, need, single, untestable

#: MetaStyle / Johnson forward time within this band at both sizes
SAME_SPEED = (0.8, 1.25)


@dataclass(frozen=True)
class Timing(Record):
    notebook = "04_quantitative_results"
    ratio_256_johnson: float | None = key("ratio_256_Johnson")
    ratio_512_johnson: float | None = key("ratio_512_Johnson")
    ratio_256_gatys: float | None = key("ratio_256_Gatys")
    #: how the two networks were timed; 04 writes "independent: ..." for an adapted model and a separately
    #: trained Johnson model (results made before issue 12 timed one network twice)
    johnson_timing: str = ""
    device_is_gpu: bool | None = None

    @property
    def independent(self) -> bool:
        return (self.johnson_timing or "").startswith("independent")


def verdict(t: Timing) -> Verdict:
    """Only when 04 timed an adapted model and a separately trained Johnson model as two networks."""
    st = "adapted model runs as fast as Johnson (ratios, same device)"
    r256, r512 = t.ratio_256_johnson, t.ratio_512_johnson
    if not need(r256, r512):
        return untestable(st, "missing (04)", "needs 04's ratios")
    if not t.independent:
        return untestable(st, f"Johnson/MetaStyle ratios {r256:.3g}, {r512:.3g} come from one network timed twice",
                          "needs an adapted model and a separately trained Johnson model timed independently")
    same = all(SAME_SPEED[0] <= 1 / r <= SAME_SPEED[1] for r in (r256, r512))
    gatys = float("nan") if t.ratio_256_gatys is None else t.ratio_256_gatys
    meas = (f"Johnson/MetaStyle time ratio {r256:.3g} (256²), {r512:.3g} (512²) ({t.johnson_timing}); "
            f"Gatys/MetaStyle {gatys:.4g} (256²); device GPU={t.device_is_gpu}")
    return Verdict(st, HOLDS if same else FAILS, meas,
                   f"holds iff MetaStyle/Johnson time within {SAME_SPEED} at both sizes")


CLAIMS = (Claim(2, (Source(Timing),), single(verdict)),)
