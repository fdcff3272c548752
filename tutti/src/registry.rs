//! The joined registry of every node type Tutti knows (effects and the facade's own adapters).

use tutti_engine::NodeType;

/// Every node type, in listing order.
pub fn node_types() -> Vec<NodeType> {
    tutti_effects::node_types()
}

/// The node type called `name`.
pub fn find(name: &str) -> Option<NodeType> {
    node_types().into_iter().find(|t| t.name == name)
}
