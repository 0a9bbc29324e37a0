//! Grouped-query self-attention with rotary positions.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Tensor};

use super::rope::Rope;

/// Self-attention where each key/value head serves `num_heads / num_kv_heads` query heads.
#[derive(Module, Debug)]
pub struct Attention {
    /// `[d, num_heads * head_dim]`.
    pub q_proj: Linear,
    /// `[d, num_kv_heads * head_dim]`.
    pub k_proj: Linear,
    /// `[d, num_kv_heads * head_dim]`.
    pub v_proj: Linear,
    /// `[num_heads * head_dim, d]`.
    pub o_proj: Linear,
    /// Query heads.
    pub num_heads: usize,
    /// Key/value heads.
    pub num_kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
}

impl Attention {
    /// `x` `[B, T, d]` at positions `0..T`; `blocked` `[B, 1, T, T]` is `true` where a query
    /// may not see a key.
    pub fn forward(&self, x: Tensor<3>, rope: &Rope, blocked: Tensor<4, Bool>) -> Tensor<3> {
        let (q, k, v) = self.project(x, rope, 0);
        self.attend(q, k, v, blocked)
    }

    /// A prefix `p` `[1, P, d]` shared by every row, then the rows `x` `[B, L, d]` at positions
    /// `P..P + L`: the prefix is projected once and its keys/values are shared by all rows.
    /// `prefix_blocked` is `[1, 1, P, P]`, `rows_blocked` `[B, 1, L, P + L]`.
    pub fn forward_prefixed(
        &self,
        p: Tensor<3>,
        x: Tensor<3>,
        rope: &Rope,
        prefix_blocked: Tensor<4, Bool>,
        rows_blocked: Tensor<4, Bool>,
    ) -> (Tensor<3>, Tensor<3>) {
        let [b, _, _] = x.dims();
        let prefix_len = p.dims()[1];
        let (qp, kp, vp) = self.project(p, rope, 0);
        let (qx, kx, vx) = self.project(x, rope, prefix_len);
        let shared = |t: &Tensor<4>| {
            let [_, h, len, hd] = t.dims();
            t.clone().expand([b, h, len, hd])
        };
        let keys = Tensor::cat(vec![shared(&kp), kx], 2);
        let values = Tensor::cat(vec![shared(&vp), vx], 2);
        (
            self.attend(qp, kp, vp, prefix_blocked),
            self.attend(qx, keys, values, rows_blocked),
        )
    }

    /// Rotated queries `[B, H, T, hd]` and keys, and values, both `[B, H, T, hd]` after
    /// sharing the key/value heads, for `x` `[B, T, d]` at positions `offset..offset + T`.
    fn project(
        &self,
        x: Tensor<3>,
        rope: &Rope,
        offset: usize,
    ) -> (Tensor<4>, Tensor<4>, Tensor<4>) {
        let [b, t, _] = x.dims();
        let heads = |y: Tensor<3>, n: usize| y.reshape([b, t, n, self.head_dim]).swap_dims(1, 2);
        let q = rope.apply(
            heads(self.q_proj.forward(x.clone()), self.num_heads),
            offset,
        );
        let k = rope.apply(
            heads(self.k_proj.forward(x.clone()), self.num_kv_heads),
            offset,
        );
        let v = heads(self.v_proj.forward(x), self.num_kv_heads);
        (q, self.share_kv(k), self.share_kv(v))
    }

    /// Scaled dot-product attention and the output projection: `[B, T, d]`.
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
            k,
            v,
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
