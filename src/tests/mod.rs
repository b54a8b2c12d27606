//! Tests across the layers, on fake hosts: the check's policy from parsed expectations
//! (`check`), the golden output of every format (`golden`), and the direction of every
//! import (`layers`).

mod check;
mod containers;
mod golden;
mod layers;
/// A busy host has tens of thousands of sockets: what each carries inline is paid that
/// many times (a socket's container context inline doubled the peak memory of a listing).
#[test]
fn a_socket_stays_small() {
    let size = std::mem::size_of::<crate::model::Socket>();
    assert!(size <= 192, "model::Socket is {size} bytes");
    let raw = std::mem::size_of::<crate::model::RawSocket>();
    assert!(raw <= 120, "model::RawSocket is {raw} bytes");
    // The rare parts out of line, the flags and the usual one holder inline.
    assert_eq!(
        std::mem::size_of::<Option<Box<crate::model::SocketContext>>>(),
        8
    );
    assert_eq!(std::mem::size_of::<crate::model::Flags>(), 8);
    assert_eq!(std::mem::size_of::<Option<crate::model::Name>>(), 8);
    assert_eq!(std::mem::size_of::<crate::model::Few<(u32, u32)>>(), 16);
}
