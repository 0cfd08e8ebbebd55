/// The version of sysboxd: the one place it is written (debian/changelog's top entry must match;
/// a unit test checks it).
public let sysboxdVersion = "0.2.0"
