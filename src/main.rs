fn main() {
    allocation_console::app::mount();
}
