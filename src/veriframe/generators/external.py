"""The external-command backend: run another tool's script in its own environment, then sign.

For models without diffusers support (HunyuanVideo-Avatar: image + audio, its repo pins its own
torch/diffusers) and for any other tool (ComfyUI's API script, a custom script). A tool is a
``[external.<id>]`` table in ``generators.toml`` (``--generators-config``,
``$VERIFRAME_GENERATORS_CONFIG`` or ``<home>/generators.toml``)::

    [external.hunyuanvideo-avatar]
    title = "HunyuanVideo-Avatar"
    model_version = "git"          # "git": the checkout's commit; or any fixed string
    workdir = "/opt/HunyuanVideo-Avatar"
    command = ["{python}", "hymm_sp/sample_gpu_poor.py", "--input", "{input_csv}",
               "--save-path", "{output_dir}", "--seed", "{seed}", "--infer-steps", "{steps}",
               "--sample-n-frames", "{frames}", "--image-size", "704", "--use-fp8",
               "--infer-min"]
    python = "/opt/HunyuanVideo-Avatar/.venv/bin/python"
    env = { PYTHONPATH = "./", MODEL_BASE = "./weights" }
    output_glob = "**/*.mp4"
    fps = 25
    needs = ["image", "audio"]
    timeout_s = 7200

Placeholders: ``{python} {image} {audio} {prompt} {seed} {steps} {frames} {fps} {output_dir}
{input_csv} {workdir}``. ``{input_csv}`` is a CSV (``videoid,image,audio,prompt,fps``) written
for scripts that take one. The command runs without a shell. The newest file matching
``output_glob`` under ``{output_dir}`` is the result; its audio track is kept (or the
``--audio`` file is muxed in when the tool wrote a silent video). The command, its arguments (the
prompt replaced by its hash unless ``--record-prompt``) and the model version go into the
manifest.
"""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from veriframe.errors import GenerateError
from veriframe.generators.base import GenerationOutput, GenerationRequest, ModelSpec, ProgressFn
from veriframe.home import home_dir


@dataclass(frozen=True)
class ExternalTool:
    """One configured external tool."""

    id: str
    title: str
    command: tuple[str, ...]
    workdir: Path | None = None
    python: str = sys.executable
    env: dict[str, str] = field(default_factory=dict)
    output_glob: str = "**/*.mp4"
    model_version: str | None = None
    fps: float | None = None
    needs: tuple[str, ...] = ()
    timeout_s: float = 7200.0
    keep_output_dir: bool = False


def config_path(path: str | os.PathLike[str] | None = None, *,
                home: str | os.PathLike[str] | None = None) -> Path:
    """The generators.toml in use: ``path``, else the one in the veriframe home."""
    if path is not None:
        return Path(path).expanduser()
    return home_dir(home) / "generators.toml"


def load_tools(path: str | os.PathLike[str] | None = None, *,
               home: str | os.PathLike[str] | None = None) -> dict[str, ExternalTool]:
    """Every ``[external.*]`` tool in the config (empty when the file does not exist)."""
    cfg = config_path(path, home=home)
    if not cfg.is_file():
        return {}
    try:
        data = tomllib.loads(cfg.read_text())
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise GenerateError(
            "generate.config-invalid", f"{cfg} cannot be read: {exc}",
            "fix the TOML (see docs/generation.md, external tools)",
        ) from None
    tools = {}
    for key, t in data.get("external", {}).items():
        cmd = t.get("command")
        if not isinstance(cmd, list) or not cmd or not all(isinstance(c, str) for c in cmd):
            raise GenerateError(
                "generate.config-invalid",
                f"[external.{key}] in {cfg} needs command = [\"prog\", \"arg\", ...]",
                "give the command as a list of strings (it runs without a shell)",
            )
        workdir = t.get("workdir")
        tools[key] = ExternalTool(
            id=key, title=str(t.get("title", key)), command=tuple(cmd),
            workdir=(cfg.parent / workdir).resolve() if workdir else None,
            python=str(t.get("python", sys.executable)),
            env={str(k): str(v) for k, v in t.get("env", {}).items()},
            output_glob=str(t.get("output_glob", "**/*.mp4")),
            model_version=t.get("model_version"),
            fps=float(t["fps"]) if "fps" in t else None,
            needs=tuple(t.get("needs", ())),
            timeout_s=float(t.get("timeout_s", 7200)),
            keep_output_dir=bool(t.get("keep_output_dir", False)),
        )
    return tools


def external_spec(tool: ExternalTool) -> ModelSpec:
    """A registry entry for a configured tool."""
    task = "avatar" if "audio" in tool.needs else "i2v" if "image" in tool.needs else "t2v"
    return ModelSpec(id=tool.id, family="external", title=tool.title, task=task,
                     fps=tool.fps or 25.0, needs=("external command", *tool.needs))


class ExternalGenerator:
    """Runs one :class:`ExternalTool`; its output video is then marked and signed."""

    def __init__(self, spec: ModelSpec, *, tool: ExternalTool,
                 work: str | os.PathLike[str] | None = None) -> None:
        self.spec = spec
        self.tool = tool
        self.work = Path(work) if work is not None else None

    def generate(
        self, request: GenerationRequest, *, progress: ProgressFn | None = None
    ) -> GenerationOutput:
        """Run the command; return the produced video (``GenerationOutput.video``)."""
        tool = self.tool
        for need, value in (("image", request.image), ("audio", request.audio)):
            if need in tool.needs and value is None:
                raise GenerateError(
                    f"generate.{need}-required", f"{tool.id} needs --{need}",
                    f"pass the input {need} with --{need}",
                )
            if value is not None and not Path(value).is_file():
                raise GenerateError(
                    f"generate.{need}-missing", f"input {need} {value} does not exist",
                    f"check --{need}",
                )
        out_dir = Path(tempfile.mkdtemp(prefix="veriframe-external-", dir=self.work))
        values = {
            "python": tool.python,
            "image": str(Path(request.image).resolve()) if request.image else "",
            "audio": str(Path(request.audio).resolve()) if request.audio else "",
            "prompt": request.prompt or "",
            "seed": str(request.seed),
            "steps": str(request.steps or self.spec.steps),
            "frames": str(request.frames or self.spec.frames),
            "fps": f"{request.fps or tool.fps or self.spec.fps:g}",
            "output_dir": str(out_dir),
            "input_csv": str(out_dir / "input.csv"),
            "workdir": str(tool.workdir or Path.cwd()),
        }
        with (out_dir / "input.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["videoid", "image", "audio", "prompt", "fps"])
            w.writerow(["veriframe", values["image"], values["audio"], values["prompt"],
                        values["fps"]])
        try:
            argv = [part.format_map(values) for part in tool.command]
        except (KeyError, ValueError, IndexError) as exc:
            raise GenerateError(
                "generate.config-invalid", f"bad placeholder in the {tool.id} command: {exc}",
                "placeholders: " + " ".join("{" + k + "}" for k in values),
            ) from None
        env = {**os.environ, **{k: v.format_map(values) for k, v in tool.env.items()}}
        started = time.perf_counter()
        if progress is not None:
            progress("generate", 0, 1)
        try:
            proc = subprocess.run(
                argv, cwd=str(tool.workdir) if tool.workdir else None, env=env,
                capture_output=True, text=True, timeout=tool.timeout_s, check=False,
            )
        except FileNotFoundError as exc:
            raise GenerateError(
                "generate.external-failed", f"{tool.id}: cannot run {argv[0]!r}: {exc}",
                "check `command`, `python` and `workdir` in generators.toml",
            ) from None
        except subprocess.TimeoutExpired:
            raise GenerateError(
                "generate.external-failed", f"{tool.id} ran longer than {tool.timeout_s:g} s",
                "raise timeout_s in generators.toml",
            ) from None
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-5:]
            raise GenerateError(
                "generate.external-failed",
                f"{tool.id} exited with status {proc.returncode}: " + " | ".join(tail),
                "run the command by hand in its environment to see the whole log",
            )
        produced = sorted(
            (p for p in out_dir.glob(tool.output_glob) if p.is_file()),
            key=lambda p: p.stat().st_mtime,
        )
        if not produced:
            raise GenerateError(
                "generate.external-failed",
                f"{tool.id} finished but wrote nothing matching {tool.output_glob!r} in {out_dir}",
                "make the command write its video under {output_dir}, or fix output_glob",
            )
        if progress is not None:
            progress("generate", 1, 1)
        prompt_sha = hashlib.sha256((request.prompt or "").encode()).hexdigest()
        recorded = argv if request.record_prompt or not request.prompt else [
            a.replace(request.prompt, f"<prompt sha256:{prompt_sha}>") for a in argv
        ]
        params: dict[str, Any] = {
            "model_id": tool.id, "backend": "external-command",
            "command": recorded, "workdir": str(tool.workdir) if tool.workdir else None,
            "seed": request.seed, "exit_status": proc.returncode, "output_file": produced[-1].name,
        }
        return GenerationOutput(
            frames=None, fps=float(values["fps"]), model=tool.title,
            model_version=self._version(), parameters=params, prompt=request.prompt,
            audio=request.audio, seconds=seconds, video=produced[-1],
        )

    def _version(self) -> str | None:
        version = self.tool.model_version
        if version != "git":
            return version
        try:
            out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=self.tool.workdir,
                                 capture_output=True, text=True, timeout=10, check=True)
            return f"git:{out.stdout.strip()}"
        except (OSError, subprocess.SubprocessError):
            return "git:unknown"
