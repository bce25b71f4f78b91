fn main() {
    println!("sessio {}", env!("CARGO_PKG_VERSION"));
}
