import ArgumentParser
import TensorLog

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create an empty store.",
        discussion: """
            Creates STORE (a new directory, or an existing empty one) holding an empty store. \
            Refuses a directory that already holds a store or other files.

            Example:
              tensorlog init my-store
            """
    )

    @OptionGroup var target: StoreArgument

    func run() throws {
        let state = directoryState(target.store)
        if state.exists {
            guard state.isDirectory else { throw CLIError("\(target.store) exists and is not a directory") }
            guard !state.isStore else { throw CLIError("\(target.store) already holds a TensorLog store") }
            guard state.isEmpty else {
                throw CLIError("\(target.store) is a directory with files in it; init needs a new or empty directory")
            }
        }
        let store = try openStore(target.store, .create)
        try closeStore(store)
        print("created an empty store in \(target.store)")
    }
}
