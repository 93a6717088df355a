"""Controllers: one module per kind, each converging one object through the AWS gateway.

Kept import-free on purpose: the manifest validator uses `controllers.naming` (pure), and importing this
package must not drag the controllers (and, through them, the manifests package) in with it.
`controllers.registry.CONTROLLERS` maps each kind to its controller.
"""
