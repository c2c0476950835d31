"""Pushing a saved folder (model, tokenizer, remote code, card) to the Hub or any Hub-API server (HF_ENDPOINT)."""

from huggingface_hub import HfApi


def push_folder(folder, repo_id: str, repo_type: str = "model", token=None, private=False, message="Upload") -> str:
    """Create ``repo_id`` if needed and upload every file of ``folder`` in one commit; returns the commit URL."""
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
    info = api.upload_folder(
        folder_path=str(folder),
        repo_id=repo_id,
        repo_type=repo_type,
        commit_message=message,
        ignore_patterns=["checkpoint-*", "checkpoint-*/**", "runs/**", "*.pt", "*.pth", "training_args.bin"],
    )
    return str(info)
