"""Name -> env factory. ``make(name, **overrides) -> (env, params)``."""

from __future__ import annotations

import inspect
from typing import Any, Callable

from jaxrl.configs import did_you_mean
from jaxrl.env import Env

Factory = Callable[..., tuple[Env, Any]]
_REGISTRY: dict[str, Factory] = {}


class UnknownEnvError(ValueError):
    """``make`` was given a name that is not registered."""


def register(name: str, factory: Factory) -> Factory:
    """Register ``factory(**overrides) -> (env, params)`` under ``name``."""
    if name in _REGISTRY:
        raise ValueError(f"env {name!r} is already registered")
    _REGISTRY[name] = factory
    return factory


def names() -> list[str]:
    """Every registered env name, sorted."""
    return sorted(_REGISTRY)


def options(name: str) -> dict[str, Any]:
    """The overrides ``make(name, ...)`` accepts, with their defaults.

    The task's own options, then the observation options every env takes
    (``obs``, ``image_size``, ``camera``, ``depth``, ``distractors``, ``camera_jitter``, ``frame_stack``,
    ``action_repeat``; see :func:`make`).
    """
    from jaxrl.envs.pixels import OBS_OPTIONS

    factory = _lookup(name)
    return {
        **{
            p.name: p.default
            for p in inspect.signature(factory).parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        },
        **OBS_OPTIONS,
    }


GYMNAX_PREFIX = "gymnax/"
BRAX_PREFIX = "brax/"


def _lookup(name: str) -> Factory:
    if isinstance(name, str) and name.startswith(GYMNAX_PREFIX):  # any gymnax env, gymnax imported on demand
        from jaxrl.envs.gymnax_env import registry_factory

        return registry_factory(name[len(GYMNAX_PREFIX):])
    if isinstance(name, str) and name.startswith(BRAX_PREFIX):  # any brax.envs env, brax imported on demand
        from jaxrl.envs.brax_env import registry_factory

        return registry_factory(name[len(BRAX_PREFIX):])
    if name not in _REGISTRY:
        hint = did_you_mean(str(name), names())
        raise UnknownEnvError(f"unknown env {name!r}{hint}; known envs: {', '.join(names())} "
                              f"(and {GYMNAX_PREFIX}<id> for any gymnax env, {BRAX_PREFIX}<name> for any brax env)")
    return _REGISTRY[name]


def make(name: str, **overrides) -> tuple[Env, Any]:
    """Build a registered env and its nominal params.

    Args:
      name: one of :func:`names`, or ``"gymnax/<gymnax id>"`` (e.g. ``"gymnax/CartPole-v1"``), or
        ``"brax/<brax env name>"`` (e.g. ``"brax/inverted_pendulum"``, option ``backend``).
      **overrides: task options (see :func:`options`), e.g. ``episode_length=200``,
        and observation options, applied around the task's env by
        :func:`jaxrl.envs.pixels.apply_obs_options`: ``obs="state"`` (the task's
        own vector) or ``"pixels"`` (MJX tasks only: uint8 ``[H, W, 3]`` images
        rendered in the graph, :class:`jaxrl.envs.pixels.PixelObs`);
        ``image_size`` (``64``, or a ``(height, width)`` pair), ``camera`` (name
        or index; ``None``: the task's default camera), ``depth`` (a 4th, depth
        channel), ``distractors`` (``"colors"`` or ``"textures"``: a random sky and floor per
        episode, :mod:`jaxrl.envs.distractors`) and ``camera_jitter`` (metres) for pixels;
        ``frame_stack=k`` stacks the last ``k``
        observations along their last axis (:class:`jaxrl.wrappers.FrameStack`);
        ``action_repeat=k`` applies each action for ``k`` task steps and sums their
        rewards (:class:`jaxrl.wrappers.ActionRepeat`, inside the pixel renderer:
        one frame per agent step; the time limit counts agent steps, ``ceil(T / k)``);
        ``debug=True`` reports NaN or out-of-range actions where they enter ``step``
        (:class:`jaxrl.wrappers.CheckActions`) and, for an MJX task whose states hold their
        poses, a state whose poses are not those of its ``qpos`` (``qpos`` edited without
        ``mjx.kinematics``; :func:`jaxrl.envs.mjx_env.check_poses`), both live when the runner
        checkifies the program.

    Returns:
      ``(env, params)``: the env (with its time limit applied) and its params pytree.
    """
    factory = _lookup(name)
    allowed = options(name)
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise ValueError(
            f"env {name!r} has no option {', '.join(map(repr, unknown))}; "
            f"its options are: {', '.join(f'{k}={v!r}' for k, v in allowed.items()) or 'none'}"
        )
    from jaxrl.envs.pixels import OBS_OPTIONS, apply_obs_options, check_obs_options

    obs_options = check_obs_options(**{k: overrides.pop(k) for k in OBS_OPTIONS if k in overrides})
    env, params = factory(**overrides)
    return apply_obs_options(env, **obs_options), params
