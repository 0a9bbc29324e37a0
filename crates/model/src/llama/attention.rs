//! Grouped-query self-attention with rotary positions (and, for Gemma 3, RMSNorm on each
//! query and key head before the rotation).

use burn::module::Module;
use burn::nn::{Linear, RmsNorm};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Tensor};

use super::rope::Rotation;
use crate::prefix::LayerKv;

/// Self-attention where each key/value head serves `num_heads / num_kv_heads` query heads.
#[derive(Module, Debug)]
pub struct Attention {
    /// `[d, num_heads * head_dim]`.
    pub(crate) q_proj: Linear,
    /// `[d, num_kv_heads * head_dim]`.
    pub(crate) k_proj: Linear,
    /// `[d, num_kv_heads * head_dim]`.
    pub(crate) v_proj: Linear,
    /// `[num_heads * head_dim, d]`.
    pub(crate) o_proj: Linear,
    /// RMSNorm over each query head's `head_dim` values before the rotation (Gemma 3); `None`
    /// for llama.
    pub(crate) q_norm: Option<RmsNorm>,
    /// The same for each key head.
    pub(crate) k_norm: Option<RmsNorm>,
    /// Query heads.
    pub(crate) num_heads: usize,
    /// Key/value heads.
    pub(crate) num_kv_heads: usize,
    /// Width of one head.
    pub(crate) head_dim: usize,
}

impl Attention {
    /// `x` `[B, T, d]` rotated by `rotation`; `blocked` `[B, 1, T, T]` is `true` where a query
    /// may not see a key. Also returns the keys and values it computed (`[B, Hkv, T, hd]`,
    /// before the heads are shared), for rows that will attend to them later.
    pub fn forward_keeping_kv(
        &self,
        x: Tensor<3>,
        rotation: &Rotation,
        blocked: Tensor<4, Bool>,
    ) -> (Tensor<3>, LayerKv) {
        let (q, keys, values) = self.project(x, rotation);
        let attended = self.attend(q, keys.clone(), values.clone(), blocked);
        (attended, LayerKv { keys, values })
    }

    /// A prefix `p` `[1, P, d]` shared by every row, then the rows `x` `[B, L, d]` after it:
    /// the prefix is projected once and its keys/values are shared by all rows.
    /// `prefix_blocked` is `[1, 1, P, P]`, `rows_blocked` `[B, 1, L, P + L]`.
    pub fn forward_prefixed(
        &self,
        p: Tensor<3>,
        x: Tensor<3>,
        rotations: [&Rotation; 2],
        prefix_blocked: Tensor<4, Bool>,
        rows_blocked: Tensor<4, Bool>,
    ) -> (Tensor<3>, Tensor<3>) {
        let [b, _, _] = x.dims();
        let (attended_prefix, prefix) = self.forward_keeping_kv(p, rotations[0], prefix_blocked);
        let shared = |t: Tensor<4>| {
            let [_, h, len, hd] = t.dims();
            t.expand([b, h, len, hd])
        };
        let rows = self.behind(
            x,
            rotations[1],
            shared(prefix.keys),
            shared(prefix.values),
            rows_blocked,
        );
        (attended_prefix, rows)
    }

    /// Rows `x` `[B, L, d]` behind prefixes whose keys and values are given per row
    /// (`[B, Hkv, P, hd]`); `blocked` is `[B, 1, L, P + L]`.
    pub fn behind(
        &self,
        x: Tensor<3>,
        rotation: &Rotation,
        prefix_keys: Tensor<4>,
        prefix_values: Tensor<4>,
        blocked: Tensor<4, Bool>,
    ) -> Tensor<3> {
        let (q, k, v) = self.project(x, rotation);
        let keys = Tensor::cat(vec![prefix_keys, k], 2);
        let values = Tensor::cat(vec![prefix_values, v], 2);
        self.attend(q, keys, values, blocked)
    }

    /// Rotated queries `[B, H, T, hd]`, rotated keys and values `[B, Hkv, T, hd]` for `x`
    /// `[B, T, d]`.
    fn project(&self, x: Tensor<3>, rotation: &Rotation) -> (Tensor<4>, Tensor<4>, Tensor<4>) {
        let [b, t, _] = x.dims();
        let heads = |y: Tensor<3>, n: usize| y.reshape([b, t, n, self.head_dim]).swap_dims(1, 2);
        let normed = |y: Tensor<4>, norm: &Option<RmsNorm>| match norm {
            Some(norm) => norm.forward(y),
            None => y,
        };
        let q = heads(self.q_proj.forward(x.clone()), self.num_heads);
        let k = heads(self.k_proj.forward(x.clone()), self.num_kv_heads);
        let q = rotation.apply(normed(q, &self.q_norm));
        let k = rotation.apply(normed(k, &self.k_norm));
        let v = heads(self.v_proj.forward(x), self.num_kv_heads);
        (q, k, v)
    }

    /// Scaled dot-product attention (key/value heads shared by their query groups) and the
    /// output projection: `[B, T, d]`.
    fn attend(
        &self,
        q: Tensor<4>,
        k: Tensor<4>,
        v: Tensor<4>,
        blocked: Tensor<4, Bool>,
    ) -> Tensor<3> {
        let [b, h, t, _] = q.dims();
        let keys = k.dims()[2];
        let blocked = blocked.expand([b, h, t, keys]);
        let context = attention(
            q,
            self.share_kv(k),
            self.share_kv(v),
            Some(blocked),
            None,
            AttentionModuleOptions::default(),
        );
        let context = context.swap_dims(1, 2).reshape([b, t, h * self.head_dim]);
        self.o_proj.forward(context)
    }

    /// Repeats each key/value head for the query heads of its group: `[B, Hkv, T, hd]` ->
    /// `[B, H, T, hd]` (query head `h` uses key/value head `h / group`, as in transformers).
    fn share_kv(&self, x: Tensor<4>) -> Tensor<4> {
        let group = self.num_heads / self.num_kv_heads;
        if group == 1 {
            return x;
        }
        let [b, hkv, t, hd] = x.dims();
        x.unsqueeze_dim::<5>(2)
            .expand([b, hkv, group, t, hd])
            .reshape([b, hkv * group, t, hd])
    }
}
