use gpu_resnet::*;
fn rss() -> u64 { let s = std::fs::read_to_string("/proc/self/status").unwrap(); s.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap().trim().trim_end_matches("kB").trim().parse().unwrap() }
fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let ctx = GpuContext::new(ContextOptions{backend: BackendChoice::Vulkan, adapter: None}).unwrap();
    let a = arch::find_arch("ResNet18").unwrap();
    let w = weights::synthetic_weights(&a, 1000, 1);
    let m = Model::new(&ctx, &w, Storage::F32).unwrap();
    let p = m.plan(1, 64, 64).unwrap();
    let x = vec![0.5f32; 3*64*64];
    let buf = ctx.device.create_buffer(&wgpu::BufferDescriptor{label:None,size:1<<16,usage:wgpu::BufferUsages::COPY_DST|wgpu::BufferUsages::STORAGE,mapped_at_creation:false});
    let t = std::time::Instant::now();
    for i in 0..=600 {
        match mode.as_str() {
            "run" => { p.run(&x).unwrap(); }
            "scope" => { ctx.scoped("x", || Ok(())).unwrap(); }
            "submit" => { let enc = ctx.device.create_command_encoder(&Default::default()); ctx.queue.submit([enc.finish()]); ctx.wait().unwrap(); }
            "write" => { ctx.queue.write_buffer(&buf, 0, &[0u8; 4096]); ctx.queue.submit([]); ctx.wait().unwrap(); }
            "pass" => { let mut enc = ctx.device.create_command_encoder(&Default::default()); { let _p = enc.begin_compute_pass(&Default::default()); } ctx.queue.submit([enc.finish()]); ctx.wait().unwrap(); }
            _ => {}
        }
        if i % 100 == 0 { eprintln!("{mode} {i} rss {} KiB  {:.1} ms/it", rss(), t.elapsed().as_secs_f64()*1e3/(i.max(1) as f64)); }
    }
}
