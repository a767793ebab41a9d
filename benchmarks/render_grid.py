"""Pixel observations next to MuJoCo's own renderer, and their throughput.

    python benchmarks/render_grid.py                       # -> benchmarks/results/render_grid.png
    python benchmarks/render_grid.py --tasks cartpole_swingup cheetah_run --out /tmp/grid.png
    python benchmarks/render_grid.py --bench --num-envs 64  # frames/s, printed and saved as JSON

Grid: one row per registered MJX task (its default camera, a random initial
state): the frame jaxrl draws inside the XLA graph (``jaxrl.envs.pixels``) beside
``mujoco.Renderer`` (OpenGL, headless through EGL or OSMesa, see
``jaxrl.video.ensure_gl``) from the same camera and ``qpos``, at 64 x 64
(enlarged, nearest neighbour) and at a larger size. The native renderer adds
what the ray caster leaves out on purpose (shadows, reflections, specular
highlights, textures, the skybox); geometry, camera pose, orientation and
colours should match.

Bench: frames per second for ``--num-envs`` envs of one task at 64 x 64 on
this machine: (a) render only (``vmap`` of pose update + ray casting over
random states), (b) a pixel env step (physics + render) next to (c) the same
env's state step; medians (and minima) of ``--repeats`` timed calls, compile
time apart. On a shared machine, read them with the load average recorded beside them.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import time

from jaxrl import video

video.ensure_gl()  # before anything imports mujoco

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

import jaxrl.envs as envs  # noqa: E402
from jaxrl.envs import pixels  # noqa: E402
from jaxrl.envs.mjx_env import MjxTask, mjx  # noqa: E402
from jaxrl.wrappers import VecEnv  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from common import machine_info  # noqa: E402

RESULTS = pathlib.Path(__file__).parent / "results"
CELL = 256  # every picture is shown at CELL x CELL pixels


def mjx_tasks() -> list[str]:
    return [n for n in envs.names() if isinstance(envs.make(n)[0].unwrapped, MjxTask)]


_FRAME_FNS: dict = {}


def _frame_fn(mj_model, cam_id: int, size: int):
    """Compiled ``(mjx model, qpos) -> uint8 [size, size, 3]``, one per host model (task variants that share one share it)."""
    key = (id(mj_model), cam_id, size)
    if key not in _FRAME_FNS:
        def frame(model, qpos):
            data = pixels.update_poses(mj_model, model, mjx.make_data(model, impl="jax").replace(qpos=qpos))
            return pixels.render(mj_model, model, data, cam_id, size, size).rgb

        _FRAME_FNS[key] = (mj_model, jax.jit(frame))  # the model is kept alive: its id stays unique
    return _FRAME_FNS[key][1]


def _enlarge(img: np.ndarray) -> Image.Image:
    return Image.fromarray(img).resize((CELL, CELL), Image.NEAREST)


def task_row(name: str, big: int, seed: int) -> tuple[list[Image.Image], str]:
    env, params = envs.make(name)
    task, m = env.unwrapped, env.mj_model
    cam = pixels.resolve_camera(m, task.default_camera)
    qpos, _ = task.initial_qpos_qvel(jax.random.PRNGKey(seed), params)
    qpos = np.asarray(qpos)
    cells = []
    for size in (64, big):
        ours = np.asarray(_frame_fn(m, cam, size)(params.model, jnp.asarray(qpos)))
        native = video.render_frames(m, qpos[None].astype(np.float64), size, size, camera=cam)[0]
        cells += [_enlarge(ours), _enlarge(native)]
    cam_name = pixels.camera_names(m)[cam]
    return cells, f"{name} (camera {cam_name!r})"


def grid(names: list[str], big: int, out: pathlib.Path, seed: int) -> pathlib.Path:
    header = ["jaxrl 64x64", "MuJoCo 64x64", f"jaxrl {big}x{big}", f"MuJoCo {big}x{big}"]
    label_h = 18
    sheet = Image.new("RGB", (4 * CELL, label_h + len(names) * (CELL + label_h)), "white")
    draw = ImageDraw.Draw(sheet)
    for j, text in enumerate(header):
        draw.text((j * CELL + 4, 3), text, fill="black")
    for i, name in enumerate(names):
        t = time.time()
        cells, title = task_row(name, big, seed)
        y = label_h + i * (CELL + label_h)
        draw.text((4, y + 3), title, fill="black")
        for j, cell in enumerate(cells):
            sheet.paste(cell, (j * CELL, y + label_h))
        print(f"{name}: {time.time() - t:.1f} s", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out


def _timed(fn, args, repeats: int) -> tuple[float, float, float]:
    """(compile + first call seconds, median and min seconds of ``repeats`` later calls)."""
    t = time.perf_counter()
    jax.block_until_ready(fn(*args))
    first = time.perf_counter() - t
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t)
    return first, statistics.median(times), min(times)


def bench(name: str, num_envs: int, repeats: int) -> dict:
    env, params = envs.make(name)
    pix_env, _ = envs.make(name, obs="pixels")
    task, m = env.unwrapped, env.mj_model
    cam = pixels.resolve_camera(m, task.default_camera)
    keys = jax.random.split(jax.random.PRNGKey(0), num_envs)
    qpos = jax.vmap(lambda k: task.initial_qpos_qvel(k, params)[0])(keys)
    template = mjx.make_data(params.model, impl="jax")

    def render_all(model, qpos):
        def one(q):
            return pixels.render(m, model, pixels.update_poses(m, model, template.replace(qpos=q)), cam, 64, 64).rgb
        return jax.vmap(one)(qpos)

    rows = {"task": name, "num_envs": num_envs, "image": "64x64x3 uint8", "repeats": repeats}
    first, med, best = _timed(jax.jit(render_all), (params.model, qpos), repeats)
    rows["render_only"] = {"compile_s": round(first, 2), "median_s": med, "min_s": best, "frames_per_s": num_envs / med}
    action = jnp.zeros((num_envs, *env.action_spec.shape))
    for label, e in (("pixel_step", pix_env), ("state_step", env)):
        venv = VecEnv(e, num_envs=num_envs)
        state, _ = jax.jit(venv.reset)(jax.random.PRNGKey(1), params)
        step = jax.jit(venv.step)
        first, med, best = _timed(step, (jax.random.PRNGKey(2), state, action, params), repeats)
        rows[label] = {"compile_s": round(first, 2), "median_s": med, "min_s": best, "steps_per_s": num_envs / med}
    rows["machine"] = machine_info()
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="*", help="MJX task names (default: every registered MJX task)")
    parser.add_argument("--size", type=int, default=256, help="the larger image size (default 256)")
    parser.add_argument("--seed", type=int, default=0, help="seed of each task's initial state")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS / "render_grid.png")
    parser.add_argument("--bench", action="store_true", help="measure frames/s instead of drawing the grid")
    parser.add_argument("--bench-task", default="cartpole_swingup")
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    if args.bench:
        rows = bench(args.bench_task, args.num_envs, args.repeats)
        print(json.dumps(rows, indent=2))
        path = RESULTS / f"render_bench_{args.bench_task}_{args.num_envs}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rows, indent=2) + "\n")
        print(f"wrote {path}")
        return
    names = args.tasks or mjx_tasks()
    print(f"wrote {grid(names, args.size, args.out, args.seed)}")


if __name__ == "__main__":
    main()
