"""A host's directory tree on this machine and how job paths map into it (pure path arithmetic).

`/opt/ml/...` lives under `<root>/opt-ml/...`; any other absolute path a job names (a processing
`LocalPath` such as `/data/in`) gets its own directory under `<root>/mounts/` and an extra mount.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

OPT_ML = PurePosixPath("/opt/ml")


@dataclass
class HostTree:
    root: Path
    extra_mounts: dict[str, Path] = field(default_factory=dict)

    @property
    def opt_ml(self) -> Path:
        return self.root / "opt-ml"

    def path(self, container_path: str) -> Path:
        """The directory on this machine that the job sees at `container_path`."""
        inside = PurePosixPath(container_path)
        if inside == OPT_ML or OPT_ML in inside.parents:
            return self.opt_ml / inside.relative_to(OPT_ML)
        for mounted, local in self.extra_mounts.items():
            if inside == PurePosixPath(mounted) or PurePosixPath(mounted) in inside.parents:
                return local / inside.relative_to(mounted)
        local = self.root / "mounts" / str(len(self.extra_mounts))
        self.extra_mounts[str(inside)] = local
        return local

    def mounts(self) -> dict[str, Path]:
        return {str(OPT_ML): self.opt_ml, **self.extra_mounts}
