"""Distracting backgrounds for pixel observations, drawn and rendered in the graph.

    env, params = jaxrl.envs.make("cheetah_run", obs="pixels", distractors="textures", camera_jitter=0.3)

What the Distracting Control Suite (Stone et al. 2021) varies, as far as it can be done without
its downloaded videos: every episode of every env draws its own

* ``"colors"``: a random sky (zenith and horizon colours) and a random floor colour;
* ``"textures"``: two random colours for the sky and two for the floor, each painted with a
  procedural pattern (a sum of sinusoids at a random frequency, orientation and phase) that drifts
  every step: a moving background, the stand-in for the natural videos;
* ``camera_jitter=s`` (either kind, or alone): the camera moved by a random offset of up to ``s``
  metres on each axis, fixed for the episode.

"Floor" is every plane geom (the ground of every DM Control task); the sky is every pixel whose ray
hits nothing. The draw is a :class:`Distraction` kept in the pixel wrapper's state
(:class:`DistractedState`), made from the episode's reset key by ``fold_in`` (the physics gets the
reset key untouched), so it vmaps with the envs, is reproducible from the key, and changes
nothing but the image: rewards, dynamics and the state observation are those of the task.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

KINDS = ("colors", "textures")
_FOLD = 0x0D157  # the draw's key: fold_in(reset key, _FOLD)


class Distraction(NamedTuple):
    """One episode's draw (unbatched; under ``vmap`` every field gains the env axes).

    Attributes:
      sky: ``[2, 3]`` RGB in [0, 1]: the sky's two colours (``"colors"``: zenith, horizon).
      floor: ``[2, 3]``: the floor's two colours (``"colors"``: both the same).
      freq: ``[2]`` spatial frequency of the sky's and the floor's patterns (0: no pattern).
      angle: ``[2]`` orientation of each pattern (radians).
      phase: ``[2]`` phase of each pattern.
      drift: ``[2]`` phase change per step of each pattern (the motion).
      camera: ``[3]`` camera position offset (metres).
      t: int32 agent steps since the episode began.
    """

    sky: jax.Array
    floor: jax.Array
    freq: jax.Array
    angle: jax.Array
    phase: jax.Array
    drift: jax.Array
    camera: jax.Array
    t: jax.Array


@struct.dataclass
class DistractedState:
    """The pixel wrapper's state when distractors are on: the inner env's state and the draw."""

    inner: object
    distraction: Distraction


def check(distractors, camera_jitter) -> tuple[str | None, float]:
    """Validate the options (host side, before anything is built); ValueError naming the bad one."""
    if distractors is not None and distractors not in KINDS:
        raise ValueError(f"unknown distractors {distractors!r}; choose one of {', '.join(KINDS)} (or None)")
    if isinstance(camera_jitter, bool) or not isinstance(camera_jitter, (int, float)) or not 0 <= camera_jitter <= 10:
        raise ValueError(f"camera_jitter must be a number of metres in [0, 10], got {camera_jitter!r}")
    return distractors, float(camera_jitter)


def draw(key: jax.Array, kind: str | None, camera_jitter: float) -> Distraction:
    """A new episode's :class:`Distraction` from its reset ``key`` (``kind`` and ``camera_jitter`` static)."""
    k = jax.random.split(jax.random.fold_in(key, _FOLD), 7)
    sky = jax.random.uniform(k[0], (2, 3))
    floor = jax.random.uniform(k[1], (2, 3))
    camera = camera_jitter * jax.random.uniform(k[2], (3,), minval=-1.0, maxval=1.0)
    zeros = jnp.zeros((2,))
    if kind != "textures":
        return Distraction(sky, jnp.stack([floor[0], floor[0]]), zeros, zeros, zeros, zeros, camera, jnp.zeros((), jnp.int32))
    freq = jax.random.uniform(k[3], (2,), minval=2.0, maxval=8.0)
    angle = jax.random.uniform(k[4], (2,), maxval=np.pi)
    phase = jax.random.uniform(k[5], (2,), maxval=2 * np.pi)
    drift = jax.random.uniform(k[6], (2,), minval=0.1, maxval=0.4) * jnp.sign(jax.random.normal(k[6], (2,)))
    return Distraction(sky, floor, freq, angle, phase, drift, camera, jnp.zeros((), jnp.int32))


def advance(d: Distraction) -> Distraction:
    """The draw one agent step later (the patterns drift)."""
    return d._replace(t=d.t + 1)


def _pattern(d: Distraction, which: int, u, v):
    """``[N]`` in [0, 1]: pattern ``which`` (0 sky, 1 floor) at surface coordinates ``(u, v)``."""
    c, s = jnp.cos(d.angle[which]), jnp.sin(d.angle[which])
    shift = d.phase[which] + d.drift[which] * d.t
    f = d.freq[which]
    wave = jnp.sin(f * (c * u + s * v) + shift) + jnp.sin(f * (c * v - s * u) * 0.7 - 0.6 * shift)
    return jnp.where(f > 0, 0.5 + 0.25 * wave, 0.0)


def sky_color(d: Distraction, dirs) -> jax.Array:
    """``[N, 3]`` sky colour for unit ray directions (3 components ``[N]``): the ``"colors"`` gradient
    (zenith to horizon by elevation), or the drifting pattern over (azimuth, elevation)."""
    up = jnp.clip(dirs[2], 0.0, 1.0)[:, None]
    gradient = (1 - up) * d.sky[1] + up * d.sky[0]
    w = _pattern(d, 0, jnp.arctan2(dirs[1], dirs[0]), 3.0 * dirs[2])[:, None]
    return jnp.where(d.freq[0] > 0, (1 - w) * d.sky[0] + w * d.sky[1], gradient)


def floor_color(d: Distraction, point) -> jax.Array:
    """``[N, 3]`` floor colour at world points (3 components ``[N]``; the pattern runs in x, y)."""
    w = _pattern(d, 1, point[0], point[1])[:, None]
    return (1 - w) * d.floor[0] + w * d.floor[1]


__all__ = ["KINDS", "DistractedState", "Distraction", "advance", "check", "draw", "floor_color", "sky_color"]
