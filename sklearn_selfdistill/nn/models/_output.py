"""The forward pass every model shares: skorch.toy's ``output_nonlin`` convention."""


class OutputNonlinMixin:
    """``forward(x)`` is ``output_nonlin(forward_logits(x))``, or the logits if it is None.

    A module with the default softmax output works with skorch's default ``NLLLoss``;
    ``output_nonlin=None`` returns logits for ``CrossEntropyLoss``. Distillation reads
    ``forward_logits`` either way.
    """

    def forward(self, x):
        """Return ``output_nonlin(logits)``, or the logits if ``output_nonlin`` is None.

        Parameters
        ----------
        x : torch.Tensor
            Inputs, as ``forward_logits`` takes them.

        Returns
        -------
        output : torch.Tensor of shape (N, num_classes)
        """
        logits = self.forward_logits(x)
        if self.output_nonlin is None:
            return logits
        return self.output_nonlin(logits)
