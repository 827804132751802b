fn main() {
    // In a task of its own: the module's start (instantiation, its first
    // functions compiled) and the console's first render are two shorter
    // tasks instead of one long one.
    leptos::prelude::set_timeout(
        allocation_console::ui::app::mount,
        std::time::Duration::ZERO,
    );
}
