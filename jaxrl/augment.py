"""Image augmentation inside the graph (DrQ / DrQ-v2's random shift), one key per sample.

    images = random_shift(key, batch.obs, pad=4)   # [N, H, W, C], each image moved by its own
                                                   # (dy, dx) in [-4, 4]^2, edges replicated

Shapes: ``[N, H, W, C]`` (any dtype: uint8 frames stay uint8, so a stack of frames is shifted
as one image, every frame by the same offset). Pure, jit- and vmap-safe; ``pad`` is static.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def shift_offsets(key: jax.Array, n: int, pad: int) -> jax.Array:
    """``[n, 2]`` int32 crop corners ``(row, col)`` in ``[0, 2 * pad]``: sample ``i`` draws its own from
    ``split(key, n)[i]`` (so one sample's shift does not depend on the batch around it)."""
    return jax.vmap(lambda k: jax.random.randint(k, (2,), 0, 2 * pad + 1))(jax.random.split(key, n))


def shift(images: jax.Array, offsets: jax.Array, pad: int) -> jax.Array:
    """``images[N, H, W, C]`` padded by ``pad`` pixels on every side (edge pixels repeated), then
    cropped back to ``H x W`` at the corners ``offsets[N, 2]``: the content moves by
    ``pad - offsets`` pixels (down, right). ``offsets = pad`` leaves an image unchanged."""
    if images.ndim != 4:
        raise ValueError(f"random_shift takes images [N, H, W, C], got shape {images.shape}")
    n, h, w, c = images.shape
    padded = jnp.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    crop = lambda img, o: jax.lax.dynamic_slice(img, (o[0], o[1], 0), (h, w, c))  # noqa: E731
    return jax.vmap(crop)(padded, offsets.astype(jnp.int32))


def random_shift(key: jax.Array, images: jax.Array, pad: int = 4) -> jax.Array:
    """DrQ's random shift: each image of ``images[N, H, W, C]`` moved by its own uniformly drawn
    integer offset in ``[-pad, pad]`` on both axes, the border filled by repeating the edge pixels
    (DrQ-v2 pads by 4 at 84 x 84). ``pad = 0`` returns ``images`` unchanged."""
    if pad < 0:
        raise ValueError(f"random_shift needs pad >= 0, got {pad}")
    if pad == 0:
        return images
    return shift(images, shift_offsets(key, images.shape[0], pad), pad)


__all__ = ["random_shift", "shift", "shift_offsets"]
