"""Jupyter config of every application on the hub (servers, nbgrader, consoles), every user.

JupyterHub's servers, the Formgrader and nbgrader's commands find this file on
JUPYTER_CONFIG_PATH (settings.Settings.environment) and load it before their own config.
"""
c = get_config()  # noqa: F821  (provided by traitlets when a Jupyter application loads this file)

# Kernels over Unix sockets in the user's 0700 runtime directory ($JUPYTER_RUNTIME_DIR, which
# the hub makes for each user), never TCP (private_kernels.py).
c.KernelManager.transport = "ipc"
c.NotebookClient.kernel_manager_class = "private_kernels.PrivateKernelManager"

# --- the servers ----------------------------------------------------------------------------
# The Lab's terminal: a plain (non-login) bash keeps the course's PATH (the venv first), which a
# login shell would reset from /etc/profile.
c.ServerApp.terminado_settings = {"shell_command": ["/bin/bash"]}
