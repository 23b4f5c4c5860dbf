//! Link arguments of the shared library: its soname, so programs record `libgpu_resnet.so.0`
//! (the ABI's major version) and not the unversioned development link.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "android" || os.ends_with("bsd") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libgpu_resnet.so.0");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
