// Shared by every kernel source (`kernels::COMMON`, placed after the storage prelude).

// Lanes per workgroup (1-D workgroups; specialised per pipeline).
override WG: u32 = 64u;

// The linear index of an invocation in a grid of `WG`-lane workgroups that the host may have
// split over y to stay within 65535 workgroups per dimension (`kernels::grid`); kernels drop the
// overshoot past their element count.
fn grid_index(wid: vec3<u32>, groups: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * groups.x + wid.x) * WG + lid;
}
