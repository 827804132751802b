fn main() {
    allocation_console::ui::app::mount();
}
